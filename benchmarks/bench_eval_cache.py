"""Wall time of a `symtune run` whose base evaluation comes from the cache, next to the first run.

    .venv/bin/python benchmarks/bench_eval_cache.py                 # quick preset, up to the base evaluation
    .venv/bin/python benchmarks/bench_eval_cache.py --preset default --stop-after eval_base

Runs the same preset twice with a fresh cache folder; the second run differs in `train.lr` only, so it
must reuse the first run's base evaluation. Prints both wall times and the eval_base stage times, and
checks that the two results.json files hold the same results.
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


def run(out: Path, cache: Path, preset: str, stop_after: str, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "symtune.cli", "run", "--preset", preset, "--out", str(out), "--cache-dir",
           str(cache), "--stop-after", stop_after, "--no-eval.progress", *extra]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="quick")
    p.add_argument("--stop-after", default="eval_base")
    p.add_argument("--work", default=None, help="folder for the two runs and the cache (default: a temp folder)")
    a = p.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="bench-eval-cache-"))
    cache = work / "cache"
    first = run(work / "a", cache, a.preset, a.stop_after, [])
    second = run(work / "b", cache, a.preset, a.stop_after, ["--train.lr", "1e-4"])
    ra = json.loads((work / "a" / "eval_base" / "results.json").read_text())
    rb = json.loads((work / "b" / "eval_base" / "results.json").read_text())
    sa = json.loads((work / "a" / "run.json").read_text())["timings"]["eval_base"]
    sb = json.loads((work / "b" / "run.json").read_text())["timings"]["eval_base"]
    print(json.dumps({"preset": a.preset, "stop_after": a.stop_after, "n_prompts": ra["n_prompts"],
                      "first_run_s": round(first, 1), "second_run_s": round(second, 1),
                      "first_eval_base_s": sa, "second_eval_base_s": sb,
                      "reused": (work / "b" / "eval_base" / "cache.json").is_file(),
                      "same_results": ra["results"] == rb["results"], "load_avg": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
