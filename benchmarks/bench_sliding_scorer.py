"""Scoring a sliding-window model (Gemma 3): the packed scorer against the full-sequence path it replaced.

    .venv/bin/python benchmarks/bench_sliding_scorer.py --json runs/bench_sliding.json
    .venv/bin/python benchmarks/bench_sliding_scorer.py --model gemma3-270m --limit 8 --dtype float32

The prompts are real dev-evaluation prompts (the issue-21 protocol's four ICL settings, `--limit` queries
per task), scored three ways in one process on the same model: method `full` (one forward per option,
what Gemma used before), method `packed` (one forward per prompt, the sliding layers' mask cut to the
window) and the bound, one plain forward over each context with the LM head at the last position
(`bounds.plain_forward_s`: what any ranking needs at least). Printed: prompts/s of each, each as a ratio
to the bound, the largest |difference| of an option's log-prob between the two methods and how many
predictions differ. In float32 the two methods must agree to float rounding; in bf16 they round
differently, so a few near-ties may flip. Not a test: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))



def main(argv=None) -> dict:
    from bounds import add_dev_args

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_dev_args(ap, model="gemma3-270m", limit=6)
    a = ap.parse_args(argv)

    import torch

    from bounds import dev_requests, plain_forward_s
    from symtune.eval.scoring import Scorer
    from symtune.models import load_model
    from symtune.provenance import provenance

    cfg, hw, reqs, tok, encoder, max_len, path = dev_requests(a.model, a.limit, a.dtype)
    model = load_model(path, dtype=cfg.dtype)
    torch.set_num_threads(os.cpu_count() or 1)
    packed = Scorer(model, tok, batch_size=a.batch_size, max_length=max_len)
    full = Scorer(model, tok, batch_size=a.batch_size, max_length=max_len, method="full")
    assert packed.method == "packed", f"{a.model}: the packed scorer does not apply ({packed.method})"
    packed.run(reqs[:a.batch_size])  # warm-up: thread pools and kernel plans
    times, res = {}, {}
    for name, sc in (("full", full), ("packed", packed)):
        t = time.perf_counter()
        res[name] = sc.run(reqs)
        times[name] = time.perf_counter() - t
    times["bound"] = plain_forward_s(model, encoder, [r.context for r in reqs], a.batch_size)
    diffs = [abs(x - y) for f, p in zip(res["full"], res["packed"]) for x, y in zip(f.logprobs, p.logprobs)]
    flips = sum(f.pred != p.pred for f, p in zip(res["full"], res["packed"]))
    n_tokens = sum(len(encoder.encode_context(r.context)) for r in reqs)
    out = {"model": a.model, "dtype": cfg.dtype, "hardware": hw.as_dict(),
           "prompts": len(reqs), "options": sum(len(r.continuations) for r in reqs), "context_tokens": n_tokens,
           "window": packed.window, "seconds": {k: round(v, 2) for k, v in times.items()},
           "prompts_per_s": {k: round(len(reqs) / v, 3) for k, v in times.items()},
           "x_bound": {k: round(v / times["bound"], 2) for k, v in times.items()},
           "packed_speedup_over_full": round(times["full"] / times["packed"], 2),
           "max_abs_logprob_diff": max(diffs), "predictions_differing": flips, "provenance": provenance()}
    print(f"{a.model} {cfg.dtype}: {len(reqs)} prompts, {out['options']} options, {n_tokens} context tokens, "
          f"window {packed.window}")
    for k in ("full", "packed", "bound"):
        print(f"  {k:6s} {times[k]:8.1f} s  {out['prompts_per_s'][k]:6.2f} prompt/s  {out['x_bound'][k]:5.2f}x bound")
    print(f"  packed is {out['packed_speedup_over_full']}x faster than full; max |dlogprob| {max(diffs):.2e}, "
          f"{flips} of {len(reqs)} predictions differ")
    if a.json:
        from symtune.provenance import write_json_atomic

        write_json_atomic(a.json, out)
    return out


if __name__ == "__main__":
    main()
