"""The plain-forward bound the evaluation benchmarks compare the scorer with (imported by them).

    from bounds import plain_forward_s
"""

from __future__ import annotations

import time


def plain_forward_s(model, encoder, prompts, batch_size: int, device: str = "cpu", last_only: bool = True) -> float:
    """Seconds for one plain forward pass over every prompt's context, longest first, `batch_size` at a time.

    last_only: left-padded rows, LM head at the last position only (what ranking needs at least); else
    right-padded rows with logits at every position (what a generic scorer computes)."""
    import torch

    ids = sorted((encoder.encode_context(p) for p in prompts), key=len, reverse=True)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    with torch.inference_mode():
        sync()
        t = time.perf_counter()
        for k in range(0, len(ids), batch_size):
            b = ids[k:k + batch_size]
            width = max(map(len, b))
            x = torch.zeros((len(b), width), dtype=torch.long)
            mask = torch.zeros((len(b), width), dtype=torch.long)
            for r, seq in enumerate(b):
                cols = slice(width - len(seq), width) if last_only else slice(0, len(seq))
                x[r, cols] = torch.tensor(seq)
                mask[r, cols] = 1
            model(input_ids=x.to(device), attention_mask=mask.to(device),
                  **({"logits_to_keep": 1} if last_only else {}))
        sync()
    return time.perf_counter() - t


DEV_TASKS = ["bbc_sport_business", "bbc_topic3", "snips_7way", "snips_weather_music"]
DEV_SETTINGS = ["instr+labels", "labels", "instr+symbols", "symbols"]


def dev_requests(model: str, limit: int, dtype: str = "auto"):
    """Real dev-evaluation prompts (4 tasks x the four ICL settings, `limit` queries each) as scorer
    requests: returns (resolved EvalConfig, hardware, requests, tokenizer, encoder, max_length, model path)."""
    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import prepare
    from symtune.eval.scoring import Request
    from symtune.hardware import resolve_config

    cfg = EvalConfig(model=model, suite="icl", tasks=DEV_TASKS, split="dev", dev_limit=limit,
                     dev_settings=DEV_SETTINGS, dtype=dtype, progress=False)
    cfg, hw = resolve_config(cfg, "eval")
    items, _, tok, encoder, max_len, path = prepare(cfg)
    return cfg, hw, [Request(it.prompt, it.continuations) for it in items], tok, encoder, max_len, path


def add_dev_args(ap, model: str, limit: int) -> None:
    """The options every dev-prompt scoring benchmark takes."""
    ap.add_argument("--model", default=model)
    ap.add_argument("--dtype", default="auto", help="auto = bf16 on a CPU that computes it natively, else float32")
    ap.add_argument("--limit", type=int, default=limit, help="dev queries per task (x 4 settings)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--json", help="write the figures here")
