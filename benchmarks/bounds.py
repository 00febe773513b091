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
