"""Memory `symtune run` holds after its training stage, before and after it is handed back to the OS.

    .venv/bin/python benchmarks/bench_run_memory.py                        # quick preset's rows, 8 steps
    .venv/bin/python benchmarks/bench_run_memory.py --model gemma3-270m --steps 8

`symtune run` trains in its own process and then evaluates the tuned model in child processes
(data-parallel). Whatever the training stage leaves resident in the parent is memory those children
do not get: on the 24 GB reference machine the parent kept 10.7-11.4 GB after training (the slow
tuned evaluations seen then had another main cause, fixed in the scorer: bench_tuned_scoring.py).
After each stage the pipeline collects garbage and calls glibc's malloc_trim
(`symtune.runtime.release_memory`) and records the process RSS before and after in run.json
(`rss_gb_after_stage`). This runs `symtune run --stop-after train` in a fresh process, with a tiny base
evaluation so that training dominates, and prints those two figures for the train stage: the bound is
the RSS the parent had before training (after the base evaluation), which a full release returns to.
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--model", default=None, help="a bundled model name (default: the preset's)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--json", default=None, help="also write the figures to this file")
    a = p.parse_args()
    exe = Path(sys.executable).with_name("symtune")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [str(exe), "run", "--preset", a.preset, "--out", str(out), "--stop-after", "train",
               "--train.steps", str(a.steps), "--eval.limit", "2", "--eval.suite", "icl", "--no-cache"]
        if a.model:
            cmd += ["--model", a.model]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        wall = time.perf_counter() - t0
        state = json.loads((out / "run.json").read_text(encoding="utf-8"))
    rss = state.get("rss_gb_after_stage", {})
    if "train" not in rss:
        sys.exit("run.json has no rss_gb_after_stage.train: RSS is readable on Linux only")
    bound = rss.get("eval_base", {}).get("after_release")
    res = {"preset": a.preset, "model": a.model or state["config"]["model"], "steps": a.steps,
           "dtype": state["hardware"]["train"]["dtype"],
           "wall_s": round(wall, 1), "rss_gb_before_training (bound)": bound,
           "rss_gb_after_training": rss["train"]["before_release"],
           "rss_gb_after_release": rss["train"]["after_release"]}
    print(json.dumps(res, indent=1))
    if bound:
        held = rss["train"]["after_release"] - bound
        print(f"train stage: {rss['train']['before_release']:.2f} GB -> {rss['train']['after_release']:.2f} GB "
              f"after release; {held:+.2f} GB above the RSS before training ({bound:.2f} GB)")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
