"""LoRA adapters: checked before any model loads, applied (and merged) onto a loaded model, scaled.

    from symtune.adapters import apply_adapter, check_adapter
    check_adapter("runs/x/train")                          # one line for a missing, damaged or foreign folder
    model = apply_adapter(model, "runs/x/train", scale=0.5)  # W + 0.5 * BA, merged

`symtune.models.load_model(..., adapter=...)` calls apply_adapter; `symtune merge` and the evaluation's
input check call check_adapter.
"""

from __future__ import annotations

from pathlib import Path

from symtune.config import short_repr
from symtune.errors import SymtuneError

ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def check_adapter(adapter: str | Path, check_weights: bool = True) -> dict:
    """Check a LoRA adapter folder before any model is loaded; returns its adapter_config.json.

    One-line errors name the missing or damaged file: no folder, no or unparsable adapter_config.json,
    no weights file, a truncated safetensors file, non-finite weights (a diverged run)."""
    import json

    ap = Path(adapter)
    if not ap.is_dir():
        raise SymtuneError(f"adapter folder {ap} does not exist; pass the --out folder of `symtune train`")
    cfg_path = ap / "adapter_config.json"
    if not cfg_path.is_file():
        raise SymtuneError(f"adapter folder {ap} has no adapter_config.json; pass a LoRA folder written by "
                           "`symtune train --method lora` (for a full fine-tune pass it as --model)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SymtuneError(f"{cfg_path} is damaged ({str(e).splitlines()[0]}); retrain the adapter or restore "
                           "the file") from None
    if not isinstance(cfg, dict):
        raise SymtuneError(f"{cfg_path} does not hold a JSON object; retrain the adapter or restore the file")
    peft_type = cfg.get("peft_type", "LORA")
    if str(peft_type).upper() != "LORA":  # scaling and merging here are LoRA's; others failed mid-run
        raise SymtuneError(f"adapter {ap} has peft_type {short_repr(peft_type)} in {cfg_path.name}; "
                           "symtune applies LoRA adapters only: merge it with peft yourself and pass the "
                           "result as --model")
    weights = next((ap / w for w in ADAPTER_WEIGHTS if (ap / w).is_file()), None)
    if weights is None:
        raise SymtuneError(f"adapter folder {ap} has no {ADAPTER_WEIGHTS[0]} (weights file); pass a complete "
                           "folder written by `symtune train --method lora`")
    if check_weights and weights.suffix == ".safetensors":
        import torch
        from safetensors import safe_open

        bad = None
        try:
            with safe_open(str(weights), framework="pt") as fh:
                for key in fh.keys():
                    if not torch.isfinite(fh.get_tensor(key)).all():
                        bad = key
                        break
        except Exception as e:  # noqa: BLE001 - safetensors raises its own error types for damaged files
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise SymtuneError(f"{weights} is damaged ({msg}); retrain the adapter or restore the file") from None
        if bad is not None:
            raise SymtuneError(f"adapter {ap} holds non-finite weights (NaN or inf, e.g. in {bad}); its training "
                               "diverged, so retrain it (lower --lr, check --weight-decay / --max-grad-norm)")
    return cfg


def apply_adapter(model, adapter: str, merge: bool = True, scale: float = 1.0):
    ap = Path(adapter)
    check_adapter(ap)
    from peft import PeftModel

    from symtune.quiet import known_noise_filtered

    import warnings

    try:
        with known_noise_filtered(), warnings.catch_warnings():
            # peft only warns when tensors go unused (the adapter then does nothing); checked below
            warnings.filterwarnings("ignore", message="Found missing adapter keys", category=UserWarning)
            pm = PeftModel.from_pretrained(model, str(ap))
    except (ValueError, RuntimeError, KeyError) as e:
        raise SymtuneError(f"adapter {ap} does not match the model ({str(e).splitlines()[0][:200]}); "
                           "pass the model it was trained on") from None
    _check_tensors_used(pm, ap)
    if scale != 1.0:
        set_adapter_scale(pm, scale)
    return pm.merge_and_unload() if merge else pm


def _check_tensors_used(peft_model, ap: Path) -> None:
    """Every tensor of the adapter file must land on a LoRA layer of the model, and every LoRA layer must get
    one: a renamed or foreign file otherwise loads as a silent no-op (the base model's results)."""
    from peft.utils import get_peft_model_state_dict

    weights = next(ap / w for w in ADAPTER_WEIGHTS if (ap / w).is_file())
    if weights.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as fh:
            stored = set(fh.keys())
    else:
        import torch

        stored = set(torch.load(str(weights), map_location="cpu", weights_only=True))
    wanted = set(get_peft_model_state_dict(peft_model))
    unused, missing = sorted(stored - wanted), sorted(wanted - stored)
    if not stored & wanted:
        raise SymtuneError(f"adapter {ap}: none of its {len(stored)} tensors matches a layer of the model "
                           f"(e.g. {short_repr(unused[0] if unused else '')}); it would change nothing, so pass "
                           "the model it was trained on")
    if unused or missing:
        what = f"{len(unused)} of its tensors match no layer (e.g. {unused[0]})" if unused else \
            f"{len(missing)} LoRA tensors of the model are not in it (e.g. {missing[0]})"
        raise SymtuneError(f"adapter {ap} does not match the model: {what}; pass the model it was trained on")


def set_adapter_scale(peft_model, scale: float) -> int:
    """Scale every LoRA update B·A by `scale` (peft's LoraLayer.set_scale: scaling = scale * alpha / r), so
    merging gives W + scale·ΔW: weight interpolation between the base model (0) and the tuned one (1), the
    WiSE-FT idea for an adapter. Returns the number of layers scaled."""
    import math

    from peft.tuners.lora import LoraLayer

    if not math.isfinite(scale) or scale < 0:
        raise SymtuneError(f"adapter scale must be a finite number >= 0 (0 = base model, 1 = as trained), got {scale}")
    n = 0
    for module in peft_model.modules():
        if isinstance(module, LoraLayer):
            for name in list(module.scaling):
                module.set_scale(name, scale)
                n += 1
    if n == 0:
        raise SymtuneError("adapter scale: the adapter has no LoRA layers to scale; leave adapter_scale at 1")
    return n
