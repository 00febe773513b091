"""Training speed and memory of `symtune train` against a bare PyTorch bound, on the bundled model.

    .venv/bin/python benchmarks/bench_train.py                       # 8 x 512 tokens, lora+full, fp32+bf16
    .venv/bin/python benchmarks/bench_train.py --batch 4 --seq 256 --steps 2 --methods lora --dtypes bfloat16
    .venv/bin/python benchmarks/bench_train.py --rows quick --steps 4 --methods lora --dtypes float32 \
        --no-low-memory --grad-ckpt-modes off,on     # the demo's own rows: checkpointing off vs on
    .venv/bin/python benchmarks/bench_train.py --rows quick --seq 384 --steps 3 --methods lora --dtypes float32 \
        --no-low-memory --grad-ckpt-modes off --lora-dropouts 0.05,0   # what LoRA's input dropout costs

For every (method, dtype) it runs, each in a fresh process so peak RSS is its own:
- trainer: `symtune.train.run_training` (HF Trainer + PEFT, label loss, no checkpoints) for warmup+steps
  optimizer steps; seconds per step = the fastest logged step after the warmup steps (min, because on a
  shared machine other load only ever adds time; the mean is in the --json output);
- bound: the same model (same LoRA config / same trainable parameters), the same batch, a bare
  PyTorch loop of forward (LM head at the supervised positions only) + backward, no optimizer.
Each row is exactly --seq tokens (no padding), the completion is a 3-token symbol; with --rows PRESET the
rows are instead that preset's own tuning rows (`symtune data` with its data settings), so step times are
the ones a run of that preset sees, and tokens/s (non-padding tokens) is the figure to compare.
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


def make_rows(tok, n: int, seq: int) -> list[dict]:
    """n rows of exactly `seq` tokens (prompt of repeated words + completion ' QXB')."""
    words = [" the", " cat", " sat", " on", " a", " mat"]
    rows = []
    for i in range(n):
        k = seq
        while True:
            body = "".join(words[(i + j) % len(words)] for j in range(k))
            prompt = "Input:" + body + "\nOutput:"
            total = len(tok(prompt + " QXB")["input_ids"])
            if total == seq:
                break
            k += seq - total
            if k <= 0:
                raise SystemExit(f"cannot build a {seq}-token row")
        rows.append({"prompt": prompt, "completion": " QXB"})
    return rows


def preset_rows(preset: str, n: int, model: str | None = None) -> list[dict]:
    """The first n tuning rows `symtune run --preset PRESET` would train on (its data settings, seed 0),
    built with `model`'s tokenizer when given (so they fit its token limit as a run on that model would)."""
    import dataclasses

    from symtune.data.run import build_dataset
    from symtune.run_config import resolve_run, stage_configs

    dcfg = stage_configs(resolve_run(None, {"preset": preset, **({"model": model} if model else {})}), "OUT")["data"]
    dcfg = dataclasses.replace(dcfg, n_prompts=n)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "rows.jsonl"
        build_dataset(dcfg, out, overwrite=True)
        return [json.loads(x) for x in out.read_text().splitlines()]


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(a) -> dict:
    import torch

    torch.set_num_threads(a.threads) if a.threads else None
    from symtune.models import load_tokenizer, resolve_model

    path = resolve_model(a.model)
    tok = load_tokenizer(path)
    rows = preset_rows(a.rows, a.batch * (a.warmup + a.steps), a.model) if a.rows else make_rows(tok, a.batch, a.seq)
    if a.mode == "trainer":
        from symtune.train import TrainConfig, run_training

        with tempfile.TemporaryDirectory() as d:
            data = Path(d) / "rows.jsonl"
            data.write_text("".join(json.dumps(r) + "\n" for r in rows))
            cfg = TrainConfig(model=path, data=str(data), out=str(Path(d) / "out"), method=a.method, dtype=a.dtype,
                              steps=a.warmup + a.steps, batch_size=a.batch, max_length=a.seq, save_every=0,
                              warmup_steps=0, gradient_checkpointing=a.grad_ckpt, threads=a.threads,
                              low_memory=a.low_memory,  # the older figures in docs/TRAINING.md use it
                              lora_dropout=a.lora_dropout)
            run_training(cfg, quiet=True)
            log = [json.loads(x) for x in (Path(d) / "out" / "log.jsonl").read_text().splitlines()]
        steps = [r for r in log if "loss" in r][a.warmup:]
        times = [r["step_s"] for r in steps]
        step_tokens = [r["tokens"] for r in steps]
    else:
        import torch.nn.functional as F

        from symtune.train.memory import limit_heap_fragmentation

        if a.low_memory:
            limit_heap_fragmentation()  # as run_training does with --low-memory

        from symtune.models import load_model
        from symtune.train.data import Collator, EncodedDataset, encode_rows

        items, _ = encode_rows(tok, rows, loss="label", add_eos=False, max_length=a.seq, overlong="drop",
                               source="bench")
        ds, collate = EncodedDataset(items), Collator(tok.pad_token_id)
        n_batches = max(1, len(items) // a.batch)
        batches = [collate([ds[i] for i in range(k * a.batch, (k + 1) * a.batch)]) for k in range(n_batches)]
        model = load_model(path, dtype=a.dtype)
        if a.method == "lora":
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(
                r=16, lora_alpha=32, lora_dropout=a.lora_dropout, task_type="CAUSAL_LM",
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
        if a.grad_ckpt:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()
        times, step_tokens = [], []
        for i in range(a.warmup + a.steps):
            batch = batches[i % n_batches]
            shift = batch["shift_labels"]
            keep = shift.ne(-100)
            step_tokens.append(int(batch["attention_mask"].sum()))
            t = time.perf_counter()
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep,
                        use_cache=False)
            loss = F.cross_entropy(out.logits.float(), shift[keep])
            loss.backward()
            for p in model.parameters():
                p.grad = None
            times.append(time.perf_counter() - t)
        times, step_tokens = times[a.warmup:], step_tokens[a.warmup:]
    s = min(times)  # the least disturbed step: the machine is shared, contention only adds time
    # fixed-length rows: tokens per second of the fastest step; real rows (--rows): over all timed steps
    tps = step_tokens[times.index(s)] / s if not a.rows else sum(step_tokens) / sum(times)
    return {"method": a.method, "dtype": a.dtype, "mode": a.mode, "grad_ckpt": a.grad_ckpt, "s_per_step": round(s, 3),
            "mean_s_per_step": round(sum(times) / len(times), 3), "mean_tokens_per_step": sum(step_tokens) / len(times),
            "tokens_per_s": round(tps, 1), "peak_rss_gb": round(peak_rss_mb() / 1024, 2),
            "low_memory": a.low_memory, "step_times": [round(x, 2) for x in times]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--steps", type=int, default=3, help="timed optimizer steps")
    p.add_argument("--warmup", type=int, default=1, help="untimed first steps")
    p.add_argument("--methods", default="lora,full")
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--grad-ckpt", action=argparse.BooleanOptionalAction, default=True,
                   help="activation checkpointing in both trainer and bound (default on: without it 8 x 512 "
                        "in fp32 needs ~15 GB)")
    p.add_argument("--grad-ckpt-modes", default=None,
                   help="run each (method, dtype) with checkpointing off and/or on: 'off,on' (overrides --grad-ckpt)")
    p.add_argument("--low-memory", action=argparse.BooleanOptionalAction, default=True,
                   help="glibc mmap threshold as `--low-memory` (default on, as the older docs figures)")
    p.add_argument("--rows", default=None, help="train on this preset's own tuning rows (e.g. quick) instead of "
                   "fixed-length synthetic rows; --seq is then the token limit")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--lora-dropouts", default="0.05", help="LoRA dropout values to measure, comma-separated "
                   "(0.05 = the presets'; 0 lets PEFT skip the copy of each adapted input)")
    p.add_argument("--lora-dropout", type=float, default=0.05, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--mode", default=None, help=argparse.SUPPRESS)
    p.add_argument("--method", default=None, help=argparse.SUPPRESS)
    p.add_argument("--dtype", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.mode:
        print("RESULT " + json.dumps(child(a)), flush=True)
        return
    import torch

    from symtune.hardware import describe_cpu

    print(f"# bench_train: {a.model}, batch {a.batch} x {a.seq} tokens"
          + (f" (the {a.rows} preset's rows)" if a.rows else "")
          + f", {a.steps} timed steps after {a.warmup} warmup, torch threads {a.threads or torch.get_num_threads()}, "
          f"cpu count {os.cpu_count()}, {describe_cpu()}, low_memory {a.low_memory}", flush=True)
    results = []
    modes = [m == "on" for m in a.grad_ckpt_modes.split(",")] if a.grad_ckpt_modes else [a.grad_ckpt]
    drops = [float(x) for x in a.lora_dropouts.split(",")]
    grid = [(m, d, c, p) for m in a.methods.split(",") for d in a.dtypes.split(",") for c in modes
            for p in (drops if m == "lora" else [None])]
    for method, dtype, ckpt, drop in grid:
        row = {}
        for mode in ("trainer", "bound"):
            cmd = [sys.executable, __file__, "--mode", mode, "--method", method, "--dtype", dtype,
                   "--model", a.model, "--batch", str(a.batch), "--seq", str(a.seq), "--steps", str(a.steps),
                   "--warmup", str(a.warmup), "--threads", str(a.threads),
                   "--low-memory" if a.low_memory else "--no-low-memory"] + (
                       ["--rows", a.rows] if a.rows else []) + (["--grad-ckpt"] if ckpt else ["--no-grad-ckpt"]) + (
                       ["--lora-dropout", str(drop)] if drop is not None else [])
            r = subprocess.run(cmd, capture_output=True, text=True)
            line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{method} {dtype} {mode}: failed\n{r.stderr[-2000:]}", flush=True)
                continue
            row[mode] = json.loads(line[7:]) | ({"lora_dropout": drop} if drop is not None else {})
            results.append(row[mode])
            print("  " + json.dumps(row[mode]), flush=True)
        if "trainer" in row and "bound" in row:
            t, b = row["trainer"], row["bound"]
            limit = 4.0 if method == "lora" else 8.0
            tag = f" dropout {drop:g}" if drop is not None else ""
            print(f"{method:4s}{tag} {dtype:8s} ckpt {'on ' if ckpt else 'off'}  trainer {t['s_per_step']:7.2f} s/step {t['tokens_per_s']:7.1f} tok/s "
                  f"peak {t['peak_rss_gb']:5.2f} GB | bound {b['s_per_step']:7.2f} s/step "
                  f"{b['tokens_per_s']:7.1f} tok/s peak {b['peak_rss_gb']:5.2f} GB | bound/trainer tok/s "
                  f"{b['tokens_per_s'] / t['tokens_per_s']:.2f}x (target <= 1.3x), memory target < {limit:.0f} GB: "
                  f"{'ok' if t['peak_rss_gb'] < limit else 'MISSED'}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
