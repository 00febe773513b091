"""Scoring a tuned (merged-adapter) model: with and without the contiguous LM-head input, against the base.

    .venv/bin/python benchmarks/bench_tuned_scoring.py                          # SmolLM2, bf16 where native
    .venv/bin/python benchmarks/bench_tuned_scoring.py --model gemma3-270m --json runs/bench_tuned.json
    .venv/bin/python benchmarks/bench_tuned_scoring.py --adapter runs/x/train   # a trained adapter

The tuned evaluation loads the base model, applies the LoRA adapter and merges it (PEFT freezes every
weight). With all weights frozen, torch's matmul ran the LM head on the `logits_to_keep` slice as a
batched product that copies the head's weight once per row; the scorer now hands the head a contiguous
input (`symtune.eval.scoring._contiguous_lm_head_input`). On real dev prompts (4 tasks x 4 ICL
settings, `--limit` queries each) this times, in one process: the base model (its weights as loaded,
requiring grad: the fast path, the bound), the merged model without the fix, and the merged model with
it; and prints the largest |log-prob difference| the fix makes (float rounding only). Without
`--adapter` a LoRA adapter with random weights (rank 16 on every linear layer) is merged: its speed is
what any adapter's is. Not a test: run it on an otherwise idle machine.
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


def merged(path: str, dtype: str, adapter: str | None):
    from symtune.models import load_model

    if adapter:
        return load_model(path, dtype=dtype, adapter=adapter)
    import torch
    from peft import LoraConfig, get_peft_model

    m = load_model(path, dtype=dtype)
    torch.manual_seed(0)
    pm = get_peft_model(m, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", init_lora_weights=False))
    return pm.merge_and_unload().eval()


def main(argv=None) -> dict:
    from bounds import add_dev_args

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dev_args(ap, model="smollm2-135m", limit=4)
    ap.add_argument("--adapter", default=None, help="a trained LoRA folder (default: a random rank-16 adapter)")
    a = ap.parse_args(argv)

    import torch

    import symtune.eval.scoring as scoring
    from bounds import dev_requests
    from symtune.models import load_model
    from symtune.provenance import provenance

    cfg, hw, reqs, tok, _, max_len, path = dev_requests(a.model, a.limit, a.dtype)
    torch.set_num_threads(os.cpu_count() or 1)
    fix = scoring._contiguous_lm_head_input
    times, res = {}, {}
    for name, build, with_fix in (("base (bound)", lambda: load_model(path, dtype=cfg.dtype), False),
                                  ("merged, before the fix", lambda: merged(path, cfg.dtype, a.adapter), False),
                                  ("merged, contiguous head input", lambda: merged(path, cfg.dtype, a.adapter), True)):
        model = build()
        scoring._contiguous_lm_head_input = fix if with_fix else (lambda m: None)
        sc = scoring.Scorer(model, tok, batch_size=a.batch_size, max_length=max_len)
        sc.run(reqs[:a.batch_size])  # warm-up: thread pools and kernel plans
        t = time.perf_counter()
        res[name] = sc.run(reqs)
        times[name] = time.perf_counter() - t
        print(f"  {name:30s} {times[name]:7.1f} s  {len(reqs) / times[name]:6.2f} prompt/s", flush=True)
        del model, sc
    scoring._contiguous_lm_head_input = fix
    a_, b_ = res["merged, before the fix"], res["merged, contiguous head input"]
    diff = max(abs(x - y) for p, q in zip(a_, b_) for x, y in zip(p.logprobs, q.logprobs))
    flips = sum(p.pred != q.pred for p, q in zip(a_, b_))
    bound = times["base (bound)"]
    out = {"model": a.model, "adapter": a.adapter or "random rank-16 LoRA, all linear layers, merged",
           "dtype": cfg.dtype, "hardware": hw.as_dict(), "prompts": len(reqs),
           "seconds": {k: round(v, 2) for k, v in times.items()},
           "x_bound": {k: round(v / bound, 2) for k, v in times.items()},
           "speedup_of_the_fix": round(times["merged, before the fix"] / times["merged, contiguous head input"], 2),
           "max_abs_logprob_diff": diff, "predictions_differing": flips, "provenance": provenance()}
    print(f"{a.model} {cfg.dtype}, {len(reqs)} prompts: the fix is {out['speedup_of_the_fix']}x faster; merged with "
          f"it at {out['x_bound']['merged, contiguous head input']}x the base model's time (before: "
          f"{out['x_bound']['merged, before the fix']}x); max |dlogprob| {diff:.1e}, {flips} predictions differ")
    if a.json:
        from symtune.provenance import write_json_atomic

        write_json_atomic(a.json, out)
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
