"""Benchmark the symbol-tuning data builder: 100,000 prompts with the tokenizer checks.

    .venv/bin/python benchmarks/bench_data.py [--n 100000] [--workers 2] [--max-length 1024]

Builds the bundled default tuning mixture with the bundled model's tokenizer (length fitting
and prompt/completion prefix check on every row), then prints prompts per second and peak
memory (max RSS of this process and its workers). Target: 100,000 prompts in under 2 minutes
on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--out", default=None, help="keep the JSONL here (default: a temp file, deleted)")
    args = ap.parse_args()

    from symtune.data.config import DataConfig
    from symtune.data.run import build_dataset

    cfg = DataConfig(n_prompts=args.n, workers=args.workers, max_length=args.max_length, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "bench.jsonl"
        t0 = time.perf_counter()
        stats = build_dataset(cfg, out, progress=sys.stderr.isatty())
        wall = time.perf_counter() - t0
        size_mb = out.stat().st_size / 2**20
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"prompts           {stats['n_prompts']}")
    print(f"workers           {args.workers} (cpu count {os.cpu_count()})")
    print(f"wall time         {wall:.1f} s (includes tokenizer/task loading)")
    print(f"prompts/s         {stats['n_prompts'] / wall:.0f}")
    print(f"tokens mean/max   {stats['tokens_mean']} / {stats['tokens_max']} (max length {args.max_length})")
    print(f"shortened         {stats['shortened_prompts']}")
    print(f"output size       {size_mb:.1f} MiB")
    print(f"peak RSS          main {self_mb:.0f} MiB, largest worker {child_mb:.0f} MiB")
    print(f"target            100,000 prompts < 120 s: {'PASS' if wall * 100_000 / stats['n_prompts'] < 120 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
