"""Wall time and peak memory of the default ICL suite with the bundled model.

    nohup .venv/bin/python benchmarks/bench_eval_suite.py --out runs/bench_suite > runs/bench_suite.log 2>&1 &

Default suite: four settings, every default held-out task, at most 100 queries per task, k = 4
(2,944 prompts, ~1.33M prompt tokens). It runs `symtune eval` as a child process, exactly as a user
would, and samples the resident memory of the whole process tree (launcher + every data-parallel
worker) once a second. Targets on the 2-core reference machine: wall time < 20 min, peak memory of
the whole tree (sum of PSS) < 3 GB. Resumable (rerun the same command after a kill; `wall_s` then covers only the
last part). Not a test: a shared CPU distorts it, so the load average is recorded.
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


def tree_memory(proc) -> tuple[int, int, int]:
    """(sum of PSS, sum of RSS, largest single RSS) over the process and its descendants, in bytes.

    PSS splits pages shared between processes (torch's libraries, the mmap'd model file) among
    them, so its sum is the memory the tree really holds; the RSS sum counts shared pages N times."""
    import psutil

    pss, rss, largest = 0, 0, 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0, 0
    for p in procs:
        try:
            m = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        pss, rss, largest = pss + m.pss, rss + m.rss, max(largest, m.rss)
    return pss, rss, largest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/bench_suite")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--scoring", default="rank")
    ap.add_argument("--json", help="write the figures here (default: OUT/bench.json)")
    args = ap.parse_args()

    import psutil

    cmd = [sys.executable, "-m", "symtune.cli", "eval", "--model", args.model, "--suite", "icl",
           "--limit", str(args.limit), "--dtype", args.dtype, "--batch-size", str(args.batch_size),
           "--processes", str(args.processes), "--scoring", args.scoring, "--out", args.out]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    print(" ".join(cmd), flush=True)
    load0 = os.getloadavg()
    t = time.perf_counter()
    child = subprocess.Popen(cmd)
    proc = psutil.Process(child.pid)
    peak = [0, 0, 0]
    while child.poll() is None:
        peak = [max(a, b) for a, b in zip(peak, tree_memory(proc))]
        time.sleep(1.0)
    wall = time.perf_counter() - t
    if child.returncode != 0:
        sys.exit(f"symtune eval failed with exit status {child.returncode}")
    with open(os.path.join(args.out, "results.json")) as fh:
        doc = json.load(fh)
    tokens = 0
    for name in sorted(os.listdir(args.out)):
        if name.startswith("samples_"):
            with open(os.path.join(args.out, name)) as fh:
                tokens += sum(json.loads(x)["context_tokens"] for x in fh)
    gb = 1024 ** 3
    fig = {
        "dtype": args.dtype, "batch_size": args.batch_size, "processes": doc["world_size"],
        "threads_per_process": doc["threads"], "prompts": doc["n_prompts"], "prompt_tokens": tokens,
        "scored_this_run": doc["n_scored_this_run"], "resumed": doc["n_resumed"],
        "wall_s": round(wall, 1), "wall_min": round(wall / 60, 2), "scoring_s": doc["seconds"]["scoring"],
        "prompts_per_s": round(doc["n_scored_this_run"] / max(doc["seconds"]["scoring"], 1e-9), 3),
        "peak_pss_tree_gb": round(peak[0] / gb, 2), "peak_rss_sum_tree_gb": round(peak[1] / gb, 2),
        "peak_rss_one_process_gb": round(peak[2] / gb, 2),
        "load_average_start": load0, "load_average_end": os.getloadavg(),
        "cpu": os.cpu_count(), "summary": doc["summary"],
    }
    print(json.dumps(fig, indent=1))
    with open(args.json or os.path.join(args.out, "bench.json"), "w") as fh:
        json.dump(fig, fh, indent=1)


if __name__ == "__main__":
    main()
