"""Wall time of the dev evaluation (recipe search) with the bundled model, bf16, 2 processes.

    nohup .venv/bin/python benchmarks/bench_dev_eval.py --out runs/bench_dev > runs/bench_dev.log 2>&1 &
    # = symtune eval --suite all --split dev --dtype bfloat16 --batch-size 8 --processes 2 --out runs/bench_dev
    .venv/bin/python benchmarks/bench_dev_eval.py --adapter runs/default/train --out runs/bench_dev_tuned
    .venv/bin/python benchmarks/bench_dev_eval.py --count-only          # prompts/tokens only, no model

The dev evaluation: the 7 default held-out tasks, `labels` and `symbols` at 40 queries per task drawn
from the exemplar split (never a test query), plus flipped labels on the 4 binary tasks; the
algorithmic suite has no dev split. Target on the 2-core reference machine: <= 6 min. The test ICL
suite (2,144 prompts, 955,924 prompt tokens) took 15.5 min there, so the expected time is that
scaled by the token ratio, printed as `expected_min_from_tokens`.

It also times the diagnostics and curves (computed from the samples files, as the runner does at
the end) against the whole run, to back the claim that they cost far less than 10% of the
evaluation. `--limit N` (queries per task) and `--tasks` shrink it for a smoke test. Not a test: a
shared CPU distorts it, so the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TEST_SUITE = {"prompts": 2144, "prompt_tokens": 955_924, "wall_min": 15.5}  # docs/EVALUATION.md, commit b8d0bf1


def count(args) -> dict:
    """Prompts and tokens of the dev evaluation and of the test ICL suite (tokenizer only, no model)."""
    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import prepare

    out = {}
    runs = (("dev", {"suite": "all", "split": "dev", "dev_limit": args.limit}), ("test_icl", {"suite": "icl"}))
    for name, kw in runs:
        cfg = EvalConfig(model=args.model, tasks=args.tasks.split(",") if args.tasks else [], **kw)
        items, *_ = prepare(cfg)
        out[name] = {"prompts": len(items), "prompt_and_answer_tokens": sum(it.n_tokens for it in items)}
    out["token_ratio"] = round(out["dev"]["prompt_and_answer_tokens"] / out["test_icl"]["prompt_and_answer_tokens"], 3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/bench_dev")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--limit", type=int, default=40, help="dev queries per task (--dev-limit)")
    ap.add_argument("--tasks", default="", help="comma-separated tasks (default: the default eval tasks)")
    ap.add_argument("--count-only", action="store_true", help="print prompt/token counts and exit (no model)")
    ap.add_argument("--json", help="write the figures here (default: OUT/bench.json)")
    args = ap.parse_args()
    if args.count_only:
        print(json.dumps(count(args), indent=1))
        return

    cmd = [sys.executable, "-m", "symtune.cli", "eval", "--model", args.model, "--suite", "all", "--split", "dev",
           "--dev-limit", str(args.limit), "--dtype", args.dtype, "--batch-size", str(args.batch_size),
           "--processes", str(args.processes), "--no-progress", "--out", args.out]
    if args.adapter:
        cmd += ["--adapter", args.adapter]
    if args.tasks:
        cmd += ["--tasks", args.tasks]
    print(" ".join(cmd), flush=True)
    load0 = os.getloadavg()
    t = time.perf_counter()
    rc = subprocess.call(cmd)
    wall = time.perf_counter() - t
    if rc != 0:
        sys.exit(f"symtune eval failed with exit status {rc}")
    with open(os.path.join(args.out, "results.json")) as fh:
        doc = json.load(fh)

    from symtune.eval.curves import curves
    from symtune.eval.diagnostics import diagnostics
    from symtune.provenance import read_jsonl

    rows_by_file: dict = {}
    for name in sorted(os.listdir(args.out)):
        if name.startswith("samples_"):
            for r in read_jsonl(os.path.join(args.out, name)):
                rows_by_file.setdefault((r["suite"], r["task"]), []).append(r)
    tokens = sum(r["context_tokens"] for rows in rows_by_file.values() for r in rows)
    t = time.perf_counter()
    diagnostics(rows_by_file)
    curves(rows_by_file)
    diag_s = time.perf_counter() - t
    fig = {
        "command": " ".join(cmd[2:]), "dtype": args.dtype, "batch_size": args.batch_size,
        "processes": doc["world_size"], "threads_per_process": doc["threads"],
        "prompts": doc["n_prompts"], "prompt_tokens": tokens, "wall_s": round(wall, 1), "wall_min": round(wall / 60, 2),
        "scoring_s": doc["seconds"]["scoring"], "target_min": 6.0,
        "vs_test_icl_suite": {"prompt_share": round(doc["n_prompts"] / TEST_SUITE["prompts"], 3),
                              "token_share": round(tokens / TEST_SUITE["prompt_tokens"], 3),
                              "expected_min_from_tokens": round(TEST_SUITE["wall_min"] * tokens
                                                                / TEST_SUITE["prompt_tokens"], 2)},
        "diagnostics_and_curves_s": round(diag_s, 3), "diagnostics_share_of_wall": round(diag_s / wall, 4),
        "load_average_start": load0, "load_average_end": os.getloadavg(), "cpu": os.cpu_count(),
        "summary": doc["summary"],
    }
    print(json.dumps(fig, indent=1))
    with open(args.json or os.path.join(args.out, "bench.json"), "w") as fh:
        json.dump(fig, fh, indent=1)


if __name__ == "__main__":
    main()
