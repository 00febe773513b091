"""Processes x threads for CPU evaluation: which layout scores fastest in a given dtype on this CPU.

    .venv/bin/python benchmarks/bench_eval_layout.py --dtype float32 --layouts 1x2,2x1 --limit 20

Each layout runs `symtune eval` as a child process exactly as a user would (`--processes P --threads T`),
on the demo's four binary held-out tasks in the four ICL settings, with the same prompts every time,
into a fresh folder. Prompts/s = prompts scored / the scoring seconds in results.json (model loading
and prompt building excluded); the table gives each layout as a ratio to the fastest. The CPU class
(native bf16 or not) is printed first. Not a test: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEMO_TASKS = "bbc_sport_business,bbc_entertainment_tech,snips_restaurant_playlist,snips_weather_music"


def run_layout(a, processes: int, threads: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "symtune.cli", "eval", "--model", a.model, "--suite", "icl", "--tasks", a.tasks,
           "--limit", str(a.limit), "--dtype", a.dtype, "--batch-size", str(a.batch_size),
           "--processes", str(processes), "--threads", str(threads), "--no-progress", "--out", str(out)]
    if a.device:
        cmd += ["--device", a.device]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"layout {processes}x{threads} failed:\n{r.stderr[-3000:]}")
    doc = json.loads((out / "results.json").read_text())
    return {"layout": f"{processes}x{threads}", "processes": doc["world_size"], "threads": doc["threads"],
            "dtype": doc["dtype"], "prompts": doc["n_scored_this_run"], "scoring_s": doc["seconds"]["scoring"],
            "wall_s": round(wall, 1), "prompts_per_s": round(doc["n_scored_this_run"] / doc["seconds"]["scoring"], 3),
            "summary": {k: v for k, v in doc["summary"].items() if k not in ("chance", "metric")}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--device", default=None, help="--device for symtune eval (default: its own default)")
    ap.add_argument("--layouts", default="1x2,2x1", help="PROCESSESxTHREADS, comma-separated")
    ap.add_argument("--tasks", default=DEMO_TASKS)
    ap.add_argument("--limit", type=int, default=20, help="queries per task (x 4 settings x tasks = prompts)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    from symtune.hardware import describe_cpu

    print(f"# bench_eval_layout: {a.model}, dtype {a.dtype}, {a.limit} queries x 4 settings x "
          f"{len(a.tasks.split(','))} tasks; {describe_cpu()}; cores {len(os.sched_getaffinity(0))}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for i, layout in enumerate(a.layouts.split(",")):
            p, t = (int(x) for x in layout.lower().split("x"))
            row = run_layout(a, p, t, Path(d) / f"l{i}")
            rows.append(row)
            print("  " + json.dumps(row), flush=True)
    best = max(r["prompts_per_s"] for r in rows)
    for r in rows:
        print(f"{r['layout']:>5}  {r['prompts_per_s']:6.3f} prompts/s  {r['scoring_s']:7.1f} s scoring  "
              f"{r['prompts_per_s'] / best:5.2f}x the fastest", flush=True)
    same = len({json.dumps(r["summary"], sort_keys=True) for r in rows}) == 1
    print(f"accuracies identical across layouts: {same}")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
