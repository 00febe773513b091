"""One prepared GPU check (< 8 min on one GPU): symtune's scorer and trainer on CUDA against the CPU.

    python benchmarks/gpu_check.py --model-dir DIR --out gpu_check.json      # on a machine with a GPU
    python benchmarks/gpu_check.py --device cpu --n 8 --steps 3 --small      # smoke run of the script itself

DIR holds a model's config.json and tokenizer files (the bundled model's prepared folder by default:
~/.cache/symtune/models/smollm2-135m); no weights are needed or read: the model is randomly initialised
(seed 0) with that architecture, so the check runs where the weights cannot travel. It checks:
  (a) evaluation log-probs of --n ICL prompts (the demo's tasks, four settings) on the device equal the CPU's
      in fp32 to 1e-4, and bf16 on the device picks the same option on >= 98% of them (reported also for
      prompts whose fp32 margin between the best two options exceeds 0.1 nats: a random model's options are
      often near ties, where any rounding flips the pick);
  (b) --steps LoRA steps in bf16 on the device (symtune's trainer, the demo's own rows) give a finite loss
      whose mean over the last 5 steps is below the mean over the first 5;
  (c) evaluation and training tokens/s on the device, each as a ratio to a plain forward pass (evaluation)
      and a plain forward+backward pass (training) over the same tokens, measured in the same run.
Prints one line per check and PASS/FAIL, writes everything to --out, exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bounds import plain_forward_s  # noqa: E402 - benchmarks/bounds.py

DEMO_TASKS = ["bbc_sport_business", "bbc_entertainment_tech", "snips_restaurant_playlist", "snips_weather_music"]


def random_model_dir(src: Path, dst: Path, small: bool) -> Path:
    """A folder with src's tokenizer and a randomly initialised model of src's architecture (or a tiny one)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    cfg = AutoConfig.from_pretrained(src, trust_remote_code=False)
    if small:
        cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers = 64, 128, 2
        cfg.num_attention_heads, cfg.num_key_value_heads = 4, 2
        if hasattr(cfg, "head_dim"):
            cfg.head_dim = 16
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(dst, safe_serialization=True)
    AutoTokenizer.from_pretrained(src).save_pretrained(dst)
    return dst


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def check_eval(mdir: Path, device: str, n: int, batch: int) -> dict:
    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import prepare
    from symtune.eval.scoring import Request, Scorer, argmax
    from symtune.models import load_model

    items, _, tok, encoder, max_len, _ = prepare(EvalConfig(model=str(mdir), suite="icl", tasks=DEMO_TASKS, limit=100))
    items = items[:: max(1, len(items) // n)][:n]
    reqs = [Request(it.prompt, it.continuations, it.max_new_tokens) for it in items]

    def run(dev, dtype):
        model = load_model(str(mdir), dtype, device=dev)
        scorer = Scorer(model, tok, batch_size=batch, max_length=max_len)
        scorer.run(reqs[:batch])  # warm-up (kernels, allocator)
        sync(dev)
        t = time.perf_counter()
        res = scorer.run(reqs)
        sync(dev)
        return time.perf_counter() - t, res, model

    _, cpu, m = run("cpu", "float32")
    del m
    _, dev32, m = run(device, "float32")
    del m
    t16, dev16, model = run(device, "bfloat16")
    diff = max(abs(a - b) for x, y in zip(cpu, dev32) for a, b in zip(x.logprobs, y.logprobs))
    same = [argmax(x.logprobs) == argmax(y.logprobs) for x, y in zip(cpu, dev16)]

    def margin(x):
        s = sorted(x.logprobs, reverse=True)
        return s[0] - s[1] if len(s) > 1 else float("inf")

    clear = [s for s, x in zip(same, cpu) if margin(x) > 0.1]
    tokens = sum(len(encoder.encode_context(r.context)) for r in reqs)
    # bound: one plain bf16 forward over every context (LM head at the last position), same batches
    bound = plain_forward_s(model, encoder, [r.context for r in reqs], batch, device=device)
    return {"prompts": len(reqs), "context_tokens": tokens, "max_abs_logprob_diff_fp32": diff,
            "fp32_equal_to_1e-4": diff <= 1e-4, "bf16_same_prediction": sum(same) / len(same),
            "bf16_same_prediction_margin_gt_0.1": (sum(clear) / len(clear)) if clear else None,
            "prompts_margin_gt_0.1": len(clear), "bf16_eval_tokens_per_s": tokens / t16,
            "bound_tokens_per_s": tokens / bound, "eval_vs_bound": bound / t16}


def check_train(mdir: Path, device: str, steps: int, batch: int) -> dict:
    import dataclasses

    import torch.nn.functional as F

    from symtune.data.run import build_dataset
    from symtune.run_config import resolve_run, stage_configs
    from symtune.train import TrainConfig, run_training

    with tempfile.TemporaryDirectory() as d:
        dcfg = dataclasses.replace(stage_configs(resolve_run(None, {"preset": "quick"}), "OUT")["data"],
                                   model=str(mdir), n_prompts=batch * steps)
        data = Path(d) / "rows.jsonl"
        build_dataset(dcfg, data, overwrite=True)
        cfg = TrainConfig(model=str(mdir), data=str(data), out=str(Path(d) / "out"), steps=steps, batch_size=batch,
                          max_length=384, lr=1e-3, warmup_steps=0, save_every=0, dtype="bfloat16", device=device)
        meta = run_training(cfg, quiet=True)
        log = [json.loads(x) for x in (Path(d) / "out" / "log.jsonl").read_text().splitlines()]
        rows = [json.loads(x) for x in data.read_text().splitlines()]
    losses = [r["loss"] for r in log if r.get("loss") is not None]
    timed = [r for r in log if r.get("loss") is not None][1:]  # the first step pays for warm-up
    tok_s = sum(r["tokens"] for r in timed) / sum(r["step_s"] for r in timed)
    # bound: plain forward+backward of the same LoRA model on the same rows, bf16, no optimizer
    from peft import LoraConfig, get_peft_model

    from symtune.models import load_model, load_tokenizer
    from symtune.train.data import Collator, EncodedDataset, encode_rows

    tok = load_tokenizer(str(mdir))
    items, _ = encode_rows(tok, rows, loss="label", add_eos=False, max_length=384, overlong="drop", source="check")
    ds, collate = EncodedDataset(items), Collator(tok.pad_token_id)
    model = get_peft_model(load_model(str(mdir), "bfloat16", device=device), LoraConfig(
        r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"], task_type="CAUSAL_LM"))
    model.train()
    n_tok, secs = 0, 0.0
    for k in range(min(steps, len(items) // batch)):
        b = {key: v.to(device) if hasattr(v, "to") else v
             for key, v in collate([ds[i] for i in range(k * batch, (k + 1) * batch)]).items()}
        keep = b["shift_labels"].ne(-100)
        sync(device)
        t = time.perf_counter()
        out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], logits_to_keep=keep, use_cache=False)
        F.cross_entropy(out.logits.float(), b["shift_labels"][keep]).backward()
        model.zero_grad(set_to_none=True)
        sync(device)
        if k:
            secs += time.perf_counter() - t
            n_tok += int(b["attention_mask"].sum())
    first, last = losses[:5], losses[-5:]
    return {"steps": len(losses), "device": meta.get("device"), "dtype": meta["config"]["dtype"],
            "finite": all(x == x and abs(x) != float("inf") for x in losses),
            "loss_first5": sum(first) / len(first), "loss_last5": sum(last) / len(last),
            "falling": sum(last) / len(last) < sum(first) / len(first), "train_tokens_per_s": tok_s,
            "bound_tokens_per_s": n_tok / secs if secs else None,
            "train_vs_bound": (tok_s / (n_tok / secs)) if secs else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=None, help="folder with config.json + tokenizer (default: bundled model)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--small", action="store_true", help="a tiny model of the same family (smoke runs)")
    ap.add_argument("--out", default="gpu_check.json")
    a = ap.parse_args()

    import torch

    from symtune.hardware import describe_cpu

    src = Path(a.model_dir) if a.model_dir else None
    if src is None:
        from symtune.models import bundled_dir

        src = bundled_dir("smollm2-135m")
    if not (src / "config.json").is_file():
        sys.exit(f"gpu_check: {src} has no config.json; pass --model-dir with the model's config and tokenizer")
    name = torch.cuda.get_device_name(0) if a.device.startswith("cuda") and torch.cuda.is_available() else describe_cpu()
    print(f"# gpu_check: {a.device} ({name}), torch {torch.__version__}, {a.n} prompts, {a.steps} LoRA steps, "
          f"random {'tiny' if a.small else 'full-size'} model from {src}", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        mdir = random_model_dir(src, Path(d) / "model", a.small)
        ev = check_eval(mdir, a.device, a.n, a.batch)
        print(f"(a) fp32 {a.device} vs cpu: max |dlogprob| {ev['max_abs_logprob_diff_fp32']:.2e} (<= 1e-4: "
              f"{'PASS' if ev['fp32_equal_to_1e-4'] else 'FAIL'}); bf16 same prediction {ev['bf16_same_prediction']:.1%} "
              f"(>= 98%: {'PASS' if ev['bf16_same_prediction'] >= 0.98 else 'FAIL'}); with fp32 margin > 0.1: "
              f"{ev['bf16_same_prediction_margin_gt_0.1']} of {ev['prompts_margin_gt_0.1']} prompts", flush=True)
        tr = check_train(mdir, a.device, a.steps, a.batch)
        print(f"(b) {tr['steps']} LoRA steps ({tr['device']}, {tr['dtype']}): loss {tr['loss_first5']:.3f} -> "
              f"{tr['loss_last5']:.3f}, finite {tr['finite']}, falling {tr['falling']}: "
              f"{'PASS' if tr['finite'] and tr['falling'] else 'FAIL'}", flush=True)
    print(f"(c) eval {ev['bf16_eval_tokens_per_s']:.0f} tok/s = {ev['eval_vs_bound']:.2f}x a plain bf16 forward "
          f"({ev['bound_tokens_per_s']:.0f} tok/s); train {tr['train_tokens_per_s']:.0f} tok/s = "
          f"{tr['train_vs_bound'] or float('nan'):.2f}x a plain bf16 forward+backward "
          f"({tr['bound_tokens_per_s'] or float('nan'):.0f} tok/s)", flush=True)
    ok = ev["fp32_equal_to_1e-4"] and ev["bf16_same_prediction"] >= 0.98 and tr["finite"] and tr["falling"]
    doc = {"device": a.device, "device_name": name, "torch": torch.__version__, "eval": ev, "train": tr,
           "pass": ok, "seconds": round(time.perf_counter() - t0, 1)}
    Path(a.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{'PASS' if ok else 'FAIL'} in {doc['seconds']:.0f} s; wrote {a.out}", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
