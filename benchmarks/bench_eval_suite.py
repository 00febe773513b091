"""Wall time and peak RSS of the default ICL suite with the bundled model.

    nohup .venv/bin/python benchmarks/bench_eval_suite.py --out runs/bench_suite > bench_suite.log 2>&1 &

Default suite: four settings, every default held-out task, at most 100 queries per task, k = 4.
Targets on the 2-core reference machine: wall time < 20 min, peak RSS < 3 GB. The run is
resumable (rerun the same command after a kill); `seconds` then covers only the last part, and
the log keeps the rate (prompts/s, tokens/s) of each part. Not a test: the CPU may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/bench_suite")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--scoring", default="rank")
    ap.add_argument("--json", help="write the figures here (default: OUT/bench.json)")
    args = ap.parse_args()

    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import format_summary, run_eval

    cfg = EvalConfig(model=args.model, suite="icl", limit=args.limit, dtype=args.dtype,
                     batch_size=args.batch_size, threads=args.threads, scoring=args.scoring)
    t = time.perf_counter()
    load0 = os.getloadavg()
    doc = run_eval(cfg, args.out)
    wall = time.perf_counter() - t
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    rows = []
    for name in sorted(os.listdir(args.out)):
        if name.startswith("samples_"):
            with open(os.path.join(args.out, name)) as fh:
                rows += [json.loads(x) for x in fh]
    fig = {
        "dtype": args.dtype, "batch_size": args.batch_size, "threads": doc["threads"], "prompts": doc["n_prompts"],
        "scored_this_run": doc["n_scored_this_run"], "resumed": doc["n_resumed"],
        "wall_s": round(wall, 1), "scoring_s": doc["seconds"]["scoring"],
        "prompts_per_s": round(doc["n_scored_this_run"] / max(doc["seconds"]["scoring"], 1e-9), 3),
        "peak_rss_gb": round(rss_gb, 2), "load_average_start": load0, "load_average_end": os.getloadavg(),
        "summary": doc["summary"],
    }
    print(format_summary(doc))
    print(json.dumps(fig, indent=1))
    with open(args.json or os.path.join(args.out, "bench.json"), "w") as fh:
        json.dump(fig, fh, indent=1)


if __name__ == "__main__":
    main()
