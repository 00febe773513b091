"""Where a stage runs and in which precision: `device: auto` and `dtype: auto`, resolved once per stage.

    symtune eval --device auto --dtype auto      # the defaults of every stage, preset and `symtune run`

device auto: cuda, then mps, then cpu.
dtype auto: bfloat16 where the device computes it natively (a CUDA GPU with bf16; an x86 CPU with
AVX512-BF16 or AMX, not plain AVX-512; an ARM CPU where oneDNN reports bf16), float16 for evaluation on a
CUDA GPU without bf16, float32 otherwise. On a CPU without native bf16 a bf16 matmul is emulated and ~30-45x slower than
fp32 (benchmarks/bench_eval_layout.py prints the CPU class), so asking for it explicitly still works but
warns.

What is hashed, cached and recorded is the *resolved* pair (`resolve_config`): two machines that
resolve differently never share a cache entry or skip each other's stages.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

from symtune.errors import SymtuneError

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda", "mps")
PURPOSES = ("eval", "train")


# -- capability queries (one function each, so tests can mock them) -------------------------------------------
def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def cuda_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_bf16_supported())


def cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


X86 = ("x86_64", "amd64", "i386", "i686", "x86")


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_bf16_native() -> bool:
    """True when this CPU has bf16 matmul instructions: AVX512-BF16 or AMX on x86.

    oneDNN's own check (`_is_mkldnn_bf16_supported`) also says yes on plain AVX-512 (Skylake-SP to Ice Lake
    Xeons), where it converts bf16 to fp32 and the scorer ran 3.8x slower than in fp32 (docs/EVALUATION.md),
    so on x86 the instructions decide. Elsewhere (aarch64) oneDNN's check is the answer."""
    import platform

    import torch

    if platform.machine().lower() in X86:
        return bool(cpu_bf16_kind())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN: nothing native to use
        return False


def cpu_fp16_native() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_bf16_kind() -> str:
    """Which bf16 instructions an x86 CPU has: "AMX", "AVX512-BF16" or "" (none, or not x86). They are worth
    naming apart: on 2 cores the same dev evaluation took ~10-13 min with AMX and 24 min with AVX512-BF16
    alone (AMD EPYC, docs/RESULTS.md), so "native bf16" does not tell a user how long a run takes."""
    import platform

    import torch

    if platform.machine().lower() not in X86:
        return ""
    cpu = torch.cpu
    if hasattr(cpu, "_is_avx512_bf16_supported") and hasattr(cpu, "_is_amx_tile_supported"):
        amx, avx512_bf16 = bool(cpu._is_amx_tile_supported()), bool(cpu._is_avx512_bf16_supported())
    else:
        flags = cpu_flags()
        amx, avx512_bf16 = "amx_bf16" in flags, "avx512_bf16" in flags
    return "AMX" if amx else "AVX512-BF16" if avx512_bf16 else ""


def describe_cpu() -> str:
    """One phrase naming the CPU class for benchmark headers: the ISA torch dispatches to, native bf16 and,
    on x86, which instructions give it."""
    import torch

    isa = torch.backends.cpu.get_cpu_capability()
    if not cpu_bf16_native():
        return f"CPU {isa}, native bf16: no (emulated)"
    kind = cpu_bf16_kind()
    return f"CPU {isa}, native bf16: yes" + (f" ({kind})" if kind else "")


# -- resolution -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hardware:
    device: str  # cpu, cuda or mps
    dtype: str  # float32, bfloat16 or float16
    reason: str  # why this dtype, in a few words (recorded in results.json, run.json and the report)
    requested_device: str = "auto"
    requested_dtype: str = "auto"
    emulated: bool = False  # the dtype is emulated on this device (many times slower)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def line(self, verb: str) -> str:
        return f"symtune {verb}: device {self.device}, dtype {self.dtype} ({self.reason})"


def resolve_device(requested: str = "auto") -> str:
    if requested not in DEVICES:
        raise SymtuneError(f"unknown device '{requested}'; choose one of {', '.join(DEVICES)}")
    if requested == "auto":
        return "cuda" if cuda_available() else "mps" if mps_available() else "cpu"
    if requested == "cuda" and not cuda_available():
        raise SymtuneError("device cuda was asked for but torch sees no CUDA GPU (a CPU-only torch build, or no "
                           "driver); use --device auto or cpu, or install a CUDA build of torch (README)")
    if requested == "mps" and not mps_available():
        raise SymtuneError("device mps was asked for but torch reports no Apple MPS backend; use --device auto or cpu")
    return requested


def _auto_dtype(device: str, purpose: str) -> tuple[str, str]:
    if device == "cuda":
        if cuda_bf16():
            return "bfloat16", "auto: this CUDA GPU computes bf16 natively"
        if purpose == "eval":
            return "float16", "auto: this CUDA GPU has no bf16, so fp16 for evaluation"
        return "float32", "auto: this CUDA GPU has no bf16 and fp16 training needs loss scaling, so fp32"
    if device == "mps":
        return "float32", "auto: fp32 on Apple MPS"
    if cpu_bf16_native():
        return "bfloat16", f"auto: this CPU computes bf16 natively ({cpu_bf16_kind() or 'oneDNN reports bf16'})"
    return "float32", "auto: this CPU has no native bf16 (no AVX512-BF16 or AMX), so fp32"


def _emulated(device: str, dtype: str) -> bool:
    if device != "cpu":
        return False
    if dtype == "bfloat16":
        return not cpu_bf16_native()
    if dtype == "float16":
        return not cpu_fp16_native()
    return False


def resolve(device: str = "auto", dtype: str = "auto", purpose: str = "eval") -> Hardware:
    """The concrete (device, dtype) for a stage, with the reason for the dtype."""
    if purpose not in PURPOSES:  # pragma: no cover - a caller bug
        raise ValueError(purpose)
    if dtype not in DTYPES:
        raise SymtuneError(f"unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}")
    if purpose == "train" and dtype == "float16":
        raise SymtuneError("dtype float16 is not supported for training (it needs loss scaling); use auto, "
                           "bfloat16 or float32")
    dev = resolve_device(device)
    if dtype == "auto":
        resolved, reason = _auto_dtype(dev, purpose)
    else:
        resolved, reason = dtype, "asked for"
    emulated = _emulated(dev, resolved)
    if emulated:
        reason += "; emulated on this CPU, many times slower"
    return Hardware(dev, resolved, reason, device, dtype, emulated)


def emulated_warning(hw: Hardware, option: str = "--dtype") -> str:
    kind = "AVX512-BF16 or AMX" if hw.dtype == "bfloat16" else "AVX512-FP16 or AMX-FP16"
    return (f"warning: {hw.dtype} is emulated on this CPU (no {kind}): expect it to be many times slower than "
            f"float32; pass {option} float32 (or auto)")


def resolve_config(cfg, purpose: str, option_prefix: str = "--"):
    """(cfg with device and dtype resolved, Hardware). Idempotent: a resolved config resolves to itself."""
    hw = resolve(cfg.device, cfg.dtype, purpose)
    return dataclasses.replace(cfg, device=hw.device, dtype=hw.dtype), hw


def announce(hw: Hardware, verb: str, option: str = "--dtype") -> None:
    """The one start line, plus the warning for an emulated dtype."""
    print(hw.line(verb), file=sys.stderr, flush=True)
    if hw.emulated:
        print(f"symtune {verb}: " + emulated_warning(hw, option), file=sys.stderr, flush=True)


def default_processes(hw: Hardware) -> int:
    """Evaluation processes when --processes is unset: one per GPU; on a CPU, by the measured layout."""
    if hw.device == "cuda":
        return max(1, cuda_count())
    if hw.device == "mps":
        return 1
    return CPU_PROCESSES.get(hw.dtype, 1)


# Measured on 2-core CPUs (benchmarks/bench_eval_layout.py; docs/EVALUATION.md): bf16 on a native-bf16 CPU
# scores ~1.2x faster as 2 processes x 1 thread; fp32 without native bf16: see the measurement below.
CPU_PROCESSES = {"bfloat16": 2, "float32": 2, "float16": 1}


def demo_preset(hw: Hardware) -> str:
    """The preset `make demo` runs here (README's table per CPU class): `quick` (100 steps) in bf16 where it is
    native or on a GPU, and in fp32 on an AVX-512 CPU (2-core Xeon: 47 min); `quick-fp32` (40 steps, the
    same evaluation) on a CPU with neither, whose fp32 evaluations took 1.6x the AVX-512 Xeon's (2-core
    AVX2 EPYC), so 100 steps there would bring the demo to about an hour."""
    import torch

    if hw.device != "cpu" or hw.dtype != "float32":
        return "quick"
    return "quick" if torch.backends.cpu.get_cpu_capability() == "AVX512" else "quick-fp32"


def summary(device: str = "auto", dtype: str = "auto") -> dict:
    """What `auto` resolves to on this machine, for `symtune hardware`."""
    import torch

    ev, tr = resolve(device, dtype, "eval"), resolve(device, "float32" if dtype == "float16" else dtype, "train")
    return {"eval": ev.as_dict(), "train": tr.as_dict(), "eval_processes": default_processes(ev),
            "cpu": describe_cpu(), "cuda_gpus": cuda_count(), "mps": mps_available(),
            "torch": torch.__version__, "torch_cuda_build": torch.version.cuda,
            "demo_preset": demo_preset(resolve(device, "auto", "eval"))}
