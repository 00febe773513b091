"""CPU threads per evaluation process (cores / processes unless set)."""

from __future__ import annotations

import os


def default_threads(world_size: int = 1) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, world_size))


def set_threads(n: int | None, world_size: int = 1) -> int:
    import torch

    n = n or default_threads(world_size)
    torch.set_num_threads(n)
    return n
