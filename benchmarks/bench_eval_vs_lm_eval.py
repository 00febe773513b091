"""symtune's scorer vs lm-evaluation-harness (HF backend) on the same ICL prompts, in one process.

    .venv/bin/pip install lm-eval          # the `bench` extra
    .venv/bin/python benchmarks/bench_eval_vs_lm_eval.py --n 64 --batch-size 8 --threads 2

Checks that every per-option log-prob agrees within 1e-3 and prints queries/s of both and the ratio
(target: symtune >= 2x faster), plus the bound: one plain forward pass over every prompt (context
only, all logits, no options) at the best batch size (target: symtune within 1.3x of it).
Not a test: timings depend on the machine and its load (report `uptime` with the numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bounds import plain_forward_s  # noqa: E402 - benchmarks/bounds.py


def plain_forward(model, encoder, prompts, batch_size):
    return plain_forward_s(model, encoder, prompts, batch_size, last_only=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=64, help="prompts (ICL suite, all four settings, mixed tasks)")
    ap.add_argument("--tasks", default="tweets_pn,snips_3way,bbc_sport_business,irony,snips_7way,implicatures")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--bound-batch-sizes", default="1,4,8")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()

    import torch

    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import prepare
    from symtune.eval.scoring import Encoder, Request, Scorer, set_threads
    from symtune.models import load_model, resolve_model

    threads = set_threads(args.threads)
    model_dir = resolve_model(args.model)
    per_task = max(1, args.n // (4 * len(args.tasks.split(","))) + 1)
    cfg = EvalConfig(model=model_dir, tasks=args.tasks.split(","), limit=per_task, seed=0)
    items = prepare(cfg)[0]
    step = max(1, len(items) // args.n)
    items = items[::step][: args.n]
    reqs = [Request(it.prompt, it.continuations) for it in items]
    n_options = sum(len(r.continuations) for r in reqs)
    model = load_model(model_dir, args.dtype)
    from symtune.models import load_tokenizer

    tok = load_tokenizer(model_dir)
    encoder = Encoder(tok)
    ctx_tokens = sum(len(encoder.encode_context(r.context)) for r in reqs)
    print(f"{len(reqs)} prompts, {n_options} options, {ctx_tokens} context tokens; threads {threads}, "
          f"dtype {args.dtype}, batch {args.batch_size}", flush=True)

    # --- symtune
    scorer = Scorer(model, tok, batch_size=args.batch_size)
    scorer.run(reqs[:2])  # warm-up
    t = time.perf_counter()
    ours = scorer.run(reqs)
    t_ours = time.perf_counter() - t
    print(f"symtune: {t_ours:.1f} s, {len(reqs) / t_ours:.2f} queries/s", flush=True)

    # --- lm-evaluation-harness, HF backend, same model object and prompts
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=args.batch_size, device="cpu")
    insts, owners = [], []
    for i, r in enumerate(reqs):
        for j, c in enumerate(r.continuations):
            insts.append(Instance(request_type="loglikelihood", doc={}, arguments=(r.context, c), idx=j))
            owners.append((i, j))
    lm.loglikelihood(insts[:2], disable_tqdm=True)  # warm-up
    t = time.perf_counter()
    theirs = lm.loglikelihood(insts, disable_tqdm=True)
    t_lm = time.perf_counter() - t
    print(f"lm-eval: {t_lm:.1f} s, {len(reqs) / t_lm:.2f} queries/s", flush=True)
    diff = max(abs(ours[i].logprobs[j] - lp) for (i, j), (lp, _greedy) in zip(owners, theirs))
    same_pred = sum(
        ours[i].pred == max(range(len(reqs[i].continuations)),
                            key=lambda j: next(lp for (a, b), (lp, _) in zip(owners, theirs) if a == i and b == j))
        for i in range(len(reqs)))

    # --- bound: one plain forward over every prompt, best batch size
    bounds = {}
    for bs in [int(x) for x in args.bound_batch_sizes.split(",")]:
        plain_forward(model, encoder, [r.context for r in reqs[:2]], bs)
        bounds[bs] = plain_forward(model, encoder, [r.context for r in reqs], bs)
        print(f"plain forward, batch {bs}: {bounds[bs]:.1f} s", flush=True)
    best_bs = min(bounds, key=bounds.get)
    fig = {
        "prompts": len(reqs), "options": n_options, "context_tokens": ctx_tokens, "threads": threads,
        "dtype": args.dtype, "batch_size": args.batch_size, "torch": torch.__version__,
        "symtune_s": round(t_ours, 2), "symtune_qps": round(len(reqs) / t_ours, 3),
        "lm_eval_s": round(t_lm, 2), "lm_eval_qps": round(len(reqs) / t_lm, 3),
        "speedup_vs_lm_eval": round(t_lm / t_ours, 2),
        "bound_s": round(bounds[best_bs], 2), "bound_batch_size": best_bs,
        "symtune_over_bound": round(t_ours / bounds[best_bs], 2),
        "max_abs_logprob_diff": diff, "same_prediction": f"{same_pred}/{len(reqs)}",
        "load_average": os.getloadavg(),
    }
    print(json.dumps(fig, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(fig, fh, indent=1)
    assert diff < 1e-3, f"per-option log-probs differ by {diff:.2e} (> 1e-3)"
    print(f"OK: agreement {diff:.1e}; symtune {fig['speedup_vs_lm_eval']}x lm-eval; "
          f"{fig['symtune_over_bound']}x the plain-forward bound (batch {best_bs})")


if __name__ == "__main__":
    main()
