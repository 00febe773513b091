"""Reference scorer for tests only: one unpadded full-sequence forward per option, no cache."""


def naive_logprobs(model, scorer, context: str, continuation: str) -> float:
    """Reference: one unpadded full-sequence forward, no cache (used by tests and benchmarks)."""
    import torch

    ctx, cont = scorer.encode_pair(context, continuation)
    ids = torch.tensor([ctx + cont])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits.float()
    logp = torch.log_softmax(logits[0, len(ctx) - 1:-1], dim=-1)
    return float(logp.gather(-1, torch.tensor(cont).unsqueeze(-1)).double().sum())
