"""The request contract and its tokenization (lm-evaluation-harness rules); needs only a tokenizer.

A request is a `context` string plus `continuations` (the label options, each starting with its
delimiter, e.g. " positive"). `Encoder.encode_pair` moves trailing whitespace of the context into the
continuation, encodes context+continuation once and splits off the context tokens, exactly like
lm-eval's `TemplateLM._encode_pair`. `Scored` is what the scorer returns per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from symtune.errors import SymtuneError


@dataclass
class Request:
    context: str
    continuations: list[str] = field(default_factory=list)  # empty = generation only
    max_new_tokens: int | None = None  # per-request generation budget (default: run()'s)


@dataclass
class Scored:
    logprobs: list[float]  # summed log-prob per option
    n_tokens: list[int]  # option token counts
    option_tokens: list[list[int]]
    generation: str | None = None  # trimmed greedy generation (when asked)
    context_tokens: int = 0

    @property
    def pred(self) -> int | None:
        return argmax(self.logprobs) if self.logprobs else None

    @property
    def pred_norm(self) -> int | None:
        if not self.logprobs:
            return None
        return argmax([lp / max(n, 1) for lp, n in zip(self.logprobs, self.n_tokens)])


def argmax(xs: Sequence[float]) -> int:
    best, idx = -math.inf, 0
    for i, x in enumerate(xs):
        if x > best:  # ties -> first option (deterministic)
            best, idx = x, i
    return idx


class Encoder:
    """Tokenization of requests (lm-eval rules); needs only a tokenizer (used by export too)."""

    def __init__(self, tokenizer, add_bos: bool | None = None):
        self.tok = tokenizer
        if add_bos is None:  # follow the tokenizer: does it put BOS in front of plain text?
            ids = tokenizer("a")["input_ids"]
            add_bos = bool(ids) and tokenizer.bos_token_id is not None and ids[0] == tokenizer.bos_token_id
        self.add_bos = add_bos

    def _enc(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    @property
    def prefix_token_id(self) -> int:
        if self.tok.bos_token_id is not None:
            return self.tok.bos_token_id
        return self.tok.eos_token_id

    def encode_context(self, context: str) -> list[int]:
        """Context tokens after moving trailing whitespace into the continuation."""
        context = context.rstrip()
        ids = ([self.prefix_token_id] if self.add_bos else []) + (self._enc(context) if context else [])
        return ids or [self.prefix_token_id]  # empty context: condition on the prefix token (lm-eval)

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """lm-eval `_encode_pair`: whitespace moves to the continuation; encode whole, slice context."""
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces > 0:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        bos = [self.prefix_token_id] if self.add_bos else []
        if not context:
            return bos or [self.prefix_token_id], self._enc(continuation)
        whole = bos + self._enc(context + continuation)
        ctx = bos + self._enc(context)
        return ctx, whole[len(ctx):]

    def encode_request(self, r: Request) -> tuple[list[int], list[list[int]]]:
        ctx_ids = self.encode_context(r.context)
        conts = []
        for c in r.continuations:
            cids, cont = self.encode_pair(r.context, c)
            if cids != ctx_ids:  # cannot happen (same context string); invariant check
                raise AssertionError("context tokens differ between options")
            if not cont:
                raise SymtuneError(f"option {c!r} is empty after tokenization; options must contain text")
            conts.append(cont)
        return ctx_ids, conts

    def token_length(self, context: str, continuations: Sequence[str] = (), new_tokens: int = 0) -> int:
        """Tokens a request needs: context plus its longest option (or the generation budget)."""
        ctx, conts = self.encode_request(Request(context, list(continuations)))
        return len(ctx) + max([len(c) for c in conts] + [new_tokens])
