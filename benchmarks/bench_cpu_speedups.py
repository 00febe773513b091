"""What buys evaluation time on a CPU: fp32 vs torch.compile vs int8 dynamic quantization vs bf16, one process.

    .venv/bin/python benchmarks/bench_cpu_speedups.py --n 64 --variants fp32,compile,int8,bf16 --bf16-n 8

Scores the same prompts (the demo's held-out tasks, four ICL settings, spread evenly) with symtune's Scorer
in each variant and prints seconds per prompt, each as a ratio to fp32 and to the bound measured in the same
run (one plain fp32 forward pass over every context with the LM head at the last position only, the same
batch size), and for each variant the share of prompts whose predicted option equals fp32's and the largest
log-prob difference. bf16 runs on its own smaller sample (--bf16-n; emulated bf16 is ~30-45x slower on a CPU
without AVX512-BF16/AMX). Not a test: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bounds import plain_forward_s  # noqa: E402 - benchmarks/bounds.py

DEMO_TASKS = ["bbc_sport_business", "bbc_entertainment_tech", "snips_restaurant_playlist", "snips_weather_music"]


def variant_model(name: str, path: str):
    import torch

    from symtune.models import load_model

    if name == "bf16":
        return load_model(path, "bfloat16", device="cpu")
    model = load_model(path, "float32", device="cpu")
    if name == "int8":
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    if name == "compile":
        model.forward = torch.compile(model.forward, dynamic=True)
    return model


def score(model, tok, items, batch_size, max_len):
    from symtune.eval.scoring import Request, Scorer

    scorer = Scorer(model, tok, batch_size=batch_size, max_length=max_len)
    reqs = [Request(it.prompt, it.continuations, it.max_new_tokens) for it in items]
    t = time.perf_counter()
    res = scorer.run(reqs, rank=True)
    return time.perf_counter() - t, res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--bf16-n", type=int, default=8)
    ap.add_argument("--variants", default="fp32,compile,int8,bf16")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    import torch

    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import prepare
    from symtune.eval.scoring import argmax, set_threads
    from symtune.hardware import describe_cpu
    from symtune.models import load_model, resolve_model

    threads = set_threads(a.threads)
    path = resolve_model(a.model)
    items, _, tok, encoder, max_len, _ = prepare(EvalConfig(model=path, suite="icl", tasks=DEMO_TASKS, limit=100))
    step = max(1, len(items) // a.n)
    items = items[::step][:a.n]
    tokens = sum(it.n_tokens for it in items)
    print(f"# bench_cpu_speedups: {a.model}, {len(items)} prompts ({tokens} tokens, {tokens / len(items):.0f}/prompt), "
          f"batch {a.batch_size}, {threads} threads, one process; {describe_cpu()}; torch {torch.__version__}",
          flush=True)
    fp32 = load_model(path, "float32", device="cpu")
    bound_time = plain_forward_s(fp32, encoder, [it.prompt for it in items], a.batch_size) / len(items)
    print(f"bound (plain fp32 forward, LM head at the last position): {bound_time:.3f} s/prompt", flush=True)
    ref_s, ref = score(fp32, tok, items, a.batch_size, max_len)
    ref_s /= len(items)
    del fp32
    rows = []
    for name in a.variants.split(","):
        n = a.bf16_n if name == "bf16" else len(items)
        sub = items[:: max(1, len(items) // n)][:n]
        idx = [items.index(it) for it in sub]
        model = variant_model(name, path)
        if name == "compile":  # warm-up compiles (excluded from the timing, reported)
            t = time.perf_counter()
            score(model, tok, sub[:2 * a.batch_size], a.batch_size, max_len)
            warm = time.perf_counter() - t
        s, res = (ref_s * len(sub), [ref[i] for i in idx]) if name == "fp32" else score(model, tok, sub, a.batch_size,
                                                                                         max_len)
        per = s / len(sub)
        agree = sum(argmax(r.logprobs) == argmax(ref[i].logprobs) for r, i in zip(res, idx)) / len(sub)
        diff = max(abs(x - y) for r, i in zip(res, idx) for x, y in zip(r.logprobs, ref[i].logprobs))
        row = {"variant": name, "prompts": len(sub), "s_per_prompt": round(per, 4),
               "vs_fp32": round(ref_s / per, 3), "vs_bound": round(bound_time / per, 3),
               "same_prediction_as_fp32": round(agree, 4), "max_abs_logprob_diff": round(diff, 5)}
        if name == "compile":
            row["warmup_s"] = round(warm, 1)
        rows.append(row)
        print(f"{name:>8}: {per:7.3f} s/prompt  {ref_s / per:5.2f}x fp32's speed  {bound_time / per:5.2f}x the "
              f"bound's  same prediction as fp32 {agree:6.1%}  max |dlogprob| {diff:.2e}", flush=True)
        del model
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"bound_s_per_prompt": bound_time, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
