"""Keep CPU training's resident memory near what PyTorch actually holds.

glibc's malloc raises its mmap threshold each time a large block is freed (up to 32 MB), after which
activation-sized tensors (MBs to tens of MBs) come from the heap and fragment it: resident memory then
grows far beyond the live tensors. Measured on SmolLM2-135M LoRA fp32, batch 4 x 512 with activation
checkpointing, bare forward+backward: peak RSS 3.78 GB by default, 1.25 GB with a fixed 1 MiB threshold,
at the same speed. Fixing the threshold (as MALLOC_MMAP_THRESHOLD_=1048576 would) returns freed
blocks to the OS at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3
_done = False


def limit_heap_fragmentation(threshold: int = 1 << 20) -> bool:
    """Fix glibc's mmap threshold (Linux only; a no-op elsewhere). Returns whether it was applied."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _done = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False
    return _done


# -- whether to recompute activations ---------------------------------------------------------------------------
def activation_bytes(model_config, tokens: int, dtype: str, lora: bool) -> int:
    """Activations a decoder-only Llama-style model keeps for backward over `tokens` tokens (an estimate).

    Per token and layer, autograd keeps about 13 hidden-sized tensors (norm inputs and outputs, the q/k/v/o
    inputs, RoPE'd q and k, attention output) plus 5 intermediate-sized ones (gate, up, their product, the
    down input), and LoRA's dropout keeps one more hidden- or intermediate-sized copy per adapted input
    (counted as 6 hidden). Checked against measured peaks in docs/TRAINING.md."""
    cfg = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    h = int(getattr(cfg, "hidden_size", 0) or 0)
    i = int(getattr(cfg, "intermediate_size", 0) or 4 * h)
    layers = int(getattr(cfg, "num_hidden_layers", 0) or 0)
    per = (19 if lora else 13) * h + 5 * i
    width = 2 if dtype in ("bfloat16", "float16") else 4
    return tokens * layers * per * width


def available_bytes(device: str) -> int | None:
    """Free memory on the device (CUDA: the GPU's free memory; else the system's MemAvailable)."""
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def checkpointing_decision(cfg, model_config, hw, longest_row: int) -> tuple[bool, str]:
    """(on, why): the user's choice, else on only when a micro-batch's activations, with the allocator's
    overhead (x1.5: SmolLM2-135M LoRA fp32, 8 rows of up to 384 tokens, estimated 6.9 GB, peaked at 10.6 GB
    RSS), would need more than half of the memory available. Recomputing them costs about one more forward
    pass per step (docs/TRAINING.md)."""
    if cfg.gradient_checkpointing is not None:
        return bool(cfg.gradient_checkpointing), "asked for"
    tokens = cfg.batch_size * min(cfg.max_length, longest_row)
    need = activation_bytes(model_config, tokens, hw.dtype, cfg.method == "lora")
    free = available_bytes(hw.device)
    gb = 1024 ** 3
    if free is None:
        return False, f"auto: activations ~{need / gb:.1f} GB, free memory unknown"
    on = 1.5 * need > free / 2
    return on, (f"auto: activations ~{need / gb:.1f} GB for {cfg.batch_size} x {min(cfg.max_length, longest_row)} "
                f"tokens, {free / gb:.1f} GB free on {hw.device}")
