"""Scoring engine: rank classification and greedy generation for causal LMs.

Request contract (lm-evaluation-harness): a request is a `context` string plus `continuations`
(the label options, each starting with its delimiter, e.g. " positive"). `encode_pair` moves
trailing whitespace of the context into the continuation, encodes context+continuation once and
splits off the context tokens (`whole[len(enc(context)):]`), exactly like lm-eval's
`TemplateLM._encode_pair`, so BPE merges across the boundary are treated the same way.

How one batch is ranked (method "packed", exact, one forward pass per batch):

    row = [left pad][context c0..cn-1][option 1 minus its last token][option 2 ...][right pad]
    positions: context 0..n-1; every option restarts at n (explicit position ids)
    4-D attention mask: the context is causal; each option token sees the whole context and the
    earlier tokens of its own option only (never another option); padding sees only itself.

Left padding makes every context end at the same column, so the LM head runs only on the last
1 + (option tokens) columns (`logits_to_keep`), shared by all rows. Each option is scored exactly
as if it followed the context alone, the context is computed once, and there is no KV cache to copy.

Greedy generation (method "kv") runs a right-padded prefix forward over ctx[:-1] with the KV
cache kept, then feeds the last context token and argmax tokens one at a time (explicit position
ids, padding masked). Method "kv" also ranks that way: each option is one row against a copy of
its prompt's cache rows (kept for cross-checking the packed path).

Requests come back in their original order. Padding never reaches a real position (attention
masks + explicit position ids), so batch size does not change results beyond float rounding
(tests: batch 1 vs 8 within 1e-4 in fp32).

Models with sliding-window layers (Gemma 2 and 3, whose model code takes one mask per layer type)
are packed too: the sliding layers get the same mask cut to the window by position (a query at
position p sees keys at positions > p - window), which is the mask the model builds for itself on
one unpadded sequence. Other models whose layers are not all full attention use the full-sequence
path (method "full"): one right-padded forward over context+option per option, logits only at the
option positions (exact; it computes the context once per option, so 2-7x the packed cost).

Log-probs are summed over an option's tokens (`acc`); the per-token mean (summed log-prob divided
by the option's token count) gives `acc_norm` (token-length normalisation; lm-eval's acc_norm
divides by characters instead).
"""

from __future__ import annotations

from typing import Callable, Sequence

from symtune.errors import SymtuneError
from symtune.eval.encoding import Encoder, Request, Scored, argmax
from symtune.eval.threads import default_threads, set_threads

__all__ = ["Scorer", "Encoder", "Request", "Scored", "argmax", "default_threads", "set_threads", "trim_generation",
           "newline_token_mask"]


# model types whose forward takes a precomputed {"full_attention": mask, "sliding_attention": mask} dict
# and applies each to its layers unchanged (transformers >= 4.53); each is checked in the tests
PACKABLE_SLIDING = ("gemma3_text", "gemma2")


def trim_generation(text: str) -> str:
    """Greedy output -> answer string: cut at the first newline, strip surrounding whitespace."""
    return text.split("\n", 1)[0].strip()


def _contiguous_lm_head_input(model) -> None:
    """Hand the LM head a contiguous input. With `logits_to_keep` the model slices its hidden states
    (B x k of T positions); when the head's weight does not require grad (a merged adapter: PEFT froze it)
    torch's matmul does not fold that strided 3-D input into one matrix product but runs a batched one
    that copies the head's weight once per row: 4.9x slower scoring on Gemma-3-270M (262k vocabulary),
    1.4x on SmolLM2 (benchmarks/bench_tuned_scoring.py). A copy of the B x k x hidden slice costs ~nothing."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None or getattr(head, "_symtune_contiguous_input", False):
        return
    head.register_forward_pre_hook(lambda module, args: (args[0].contiguous(),) + tuple(args[1:]))
    head._symtune_contiguous_input = True


class Scorer:
    """Batched log-likelihood and greedy generation over a causal LM (HF transformers)."""

    def __init__(self, model, tokenizer, batch_size: int = 8, max_length: int | None = None,
                 add_bos: bool | None = None, method: str = "auto", max_option_rows: int = 32,
                 pad_multiple: int = 16, option_cache_budget: int = 4096):
        self.model = model
        self.tok = tokenizer
        self.batch_size = max(1, int(batch_size))
        self.max_option_rows = max(1, int(max_option_rows))
        # option rows per forward are also capped so rows x cached positions stays under this budget:
        # each row holds a copy of its prompt's KV cache, and 32 copies of an 800-token cache made
        # peak memory 2 GB (bf16) where 4096 positions keep it near the model's own size
        self.option_cache_budget = max(1, int(option_cache_budget))
        self.pad_multiple = max(1, int(pad_multiple))
        cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        model_max = getattr(cfg, "max_position_embeddings", None) or 2048
        self.max_length = min(max_length, model_max) if max_length else model_max
        self.enc = Encoder(tokenizer, add_bos)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
        self.softcap = getattr(cfg, "final_logit_softcapping", None)
        _contiguous_lm_head_input(model)
        self.window = None if self._plain_kv_cache(cfg) else self._packable_window(cfg)
        # the packed 4-D mask is boolean for sdpa and additive for eager; flash kernels take no 4-D mask
        self.attn = getattr(getattr(model, "config", None), "_attn_implementation", None) or "sdpa"
        if method == "auto":
            packable = self._plain_kv_cache(cfg) or self.window
            method = "packed" if packable and self.attn in ("sdpa", "eager") else "full"
        if method == "packed" and not self._plain_kv_cache(cfg) and not self.window:
            raise SymtuneError(f"scoring method 'packed' is not exact for model type "
                               f"'{getattr(cfg, 'model_type', '?')}' (layers {sorted(set(getattr(cfg, 'layer_types', None) or []))}); "
                               "use method full or auto")
        if method not in ("packed", "kv", "full"):
            raise SymtuneError(f"unknown scoring method '{method}'; choose packed, kv, full or auto")
        self.method = method
        # batches are built on the CPU and moved once per forward; log-prob sums come back to the CPU
        import torch

        first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        self.device = first.device if first is not None else torch.device("cpu")
        self._newline_ids = None
        self._stop_ids = None
        import inspect

        params = inspect.signature(type(getattr(model, "get_base_model", lambda: model)()).forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"  # transformers >= 5.x renames it

    @staticmethod
    def _plain_kv_cache(cfg) -> bool:
        """True when every layer is full attention, so a right-padded shared KV cache is exact."""
        types_ = getattr(cfg, "layer_types", None)
        if types_:
            return all(t == "full_attention" for t in types_)
        return not getattr(cfg, "sliding_window", None)

    @staticmethod
    def _packable_window(cfg) -> int | None:
        """The sliding window of a model whose forward takes a {layer type: mask} dict (checked against
        a naive forward in tests/test_eval_scoring.py), else None."""
        types_ = set(getattr(cfg, "layer_types", None) or [])
        window = getattr(cfg, "sliding_window", None)
        if getattr(cfg, "model_type", None) in PACKABLE_SLIDING and types_ <= {"full_attention", "sliding_attention"} \
                and isinstance(window, int) and window > 0:
            return window
        return None

    def encode_pair(self, context: str, continuation: str):
        return self.enc.encode_pair(context, continuation)

    # ---------------------------------------------------------------- public API
    def run(self, requests: Sequence[Request], rank: bool = True, generate: bool = False,
            max_new_tokens: int = 32, progress: Callable[[int], None] | None = None) -> list[Scored]:
        """Score (and/or generate for) every request; results in the original order."""
        import torch

        encoded = [self.enc.encode_request(r) if rank else (self.enc.encode_context(r.context), [])
                   for r in requests]
        caps = [r.max_new_tokens or max_new_tokens for r in requests]
        for i, (ctx, conts) in enumerate(encoded):
            need = len(ctx) + max([len(c) for c in conts] + [caps[i] if generate else 0])
            if need > self.max_length:
                raise SymtuneError(
                    f"request {i} needs {need} tokens but the limit is {self.max_length}; "
                    "shorten the prompt or raise --max-length")
        # longest first (like lm-eval's Collator): batches hold similar lengths, OOM shows early
        order = sorted(range(len(requests)),
                       key=lambda i: (-(len(encoded[i][0]) + max([len(c) for c in encoded[i][1]] + [0])), i))
        out: list[Scored | None] = [None] * len(requests)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = [encoded[i] for i in idx]
                bcaps = [caps[i] for i in idx]
                if self.method == "packed" and rank and not generate:
                    res = self._run_batch_packed(batch)
                elif self.method in ("packed", "kv"):
                    res = self._run_batch_kv(batch, rank, generate, bcaps)
                else:
                    res = self._run_batch_full(batch, rank, generate, bcaps)
                for i, r in zip(idx, res):
                    out[i] = r
                if progress:
                    progress(len(idx))
        return out  # type: ignore[return-value]

    def generate(self, requests: Sequence[Request], max_new_tokens: int = 32, **kw) -> list[str]:
        return [s.generation or "" for s in self.run(requests, rank=False, generate=True,
                                                     max_new_tokens=max_new_tokens, **kw)]

    # ---------------------------------------------------------------- internals
    def _logits(self, out_logits):
        logits = out_logits.float()
        if self.softcap:
            import torch

            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def _forward(self, input_ids, attention_mask, position_ids, cache=None, logits_to_keep=0):
        kw = {self._cache_kw: cache} if cache is not None else {}
        d = self.device
        if isinstance(attention_mask, dict):
            attention_mask = {k: v.to(d) for k, v in attention_mask.items()}
        else:
            attention_mask = attention_mask.to(d)
        return self.model(input_ids=input_ids.to(d), attention_mask=attention_mask,
                          position_ids=position_ids.to(d), use_cache=cache is not None,
                          logits_to_keep=logits_to_keep, **kw)

    def _option_logprob(self, logp_rows, cont) -> float:
        """Summed log-prob of `cont` (token ids) read off `logp_rows` (one row per option token), in float64
        on the CPU (MPS has no float64)."""
        import torch

        target = torch.tensor(cont, device=logp_rows.device).unsqueeze(-1)
        return float(logp_rows.gather(-1, target).squeeze(-1).cpu().double().sum())

    def _prefix(self, batch):
        """Right-padded forward over ctx[:-1] of every prompt; returns (cache, lengths, width)."""
        import torch
        from transformers import DynamicCache

        lens = [len(ctx) - 1 for ctx, _ in batch]  # prefix lengths (last context token is fed later)
        width = max(lens)
        cache = DynamicCache()
        if width == 0:
            return cache, lens, 0
        # pad the width to a multiple of `pad_multiple`: fewer distinct shapes, so CPU kernels
        # (oneDNN bf16 in particular) are not re-planned for every prompt length; padding is masked.
        width = -(-width // self.pad_multiple) * self.pad_multiple
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, (ctx, _) in enumerate(batch):
            n = lens[b]
            ids[b, :n] = torch.tensor(ctx[:-1])
            mask[b, :n] = 1
            if n == 0:
                mask[b, 0] = 1  # a fully masked row would give NaNs; this slot stays masked later
        pos = torch.arange(width).unsqueeze(0).expand(len(batch), -1)
        self._forward(ids, mask, pos, cache=cache, logits_to_keep=1)
        return cache, lens, width

    def _run_batch_packed(self, batch):
        """Rank every option of every prompt in one forward pass (layout in the module docstring)."""
        import torch

        n_ctx = [len(ctx) for ctx, _ in batch]
        fed = [[c[:-1] for c in conts] for _, conts in batch]  # tokens fed after the context
        seg = [sum(len(f) for f in fs) for fs in fed]
        a, s = max(n_ctx), max(seg)
        width = -(-(a + s) // self.pad_multiple) * self.pad_multiple  # fewer distinct shapes (oneDNN)
        a = width - s  # the extra columns go to the left padding
        n = len(batch)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        pos = torch.zeros((n, width), dtype=torch.long)
        mask = torch.eye(width, dtype=torch.bool).unsqueeze(0).repeat(n, 1, 1)  # padding sees itself
        for b, (ctx, _) in enumerate(batch):
            lo = a - n_ctx[b]
            ids[b, lo:a] = torch.tensor(ctx)
            pos[b, lo:a] = torch.arange(n_ctx[b])
            mask[b, lo:a, lo:a] = torch.ones(n_ctx[b], n_ctx[b], dtype=torch.bool).tril()
            start = a
            for f in fed[b]:
                if not f:
                    continue
                end = start + len(f)
                ids[b, start:end] = torch.tensor(f)
                pos[b, start:end] = torch.arange(n_ctx[b], n_ctx[b] + len(f))
                mask[b, start:end, lo:a] = True
                mask[b, start:end, start:end] = torch.ones(len(f), len(f), dtype=torch.bool).tril()
                start = end
        mask_bool = mask.unsqueeze(1)
        mask = self._attn_mask(mask_bool)
        if self.window:  # sliding layers: a query at position p sees keys at positions > p - window
            near = (pos.unsqueeze(2) - pos.unsqueeze(1)) < self.window
            mask = {"full_attention": mask, "sliding_attention": self._attn_mask(mask_bool & near.unsqueeze(1))}
        out = self._forward(ids, mask, pos, logits_to_keep=s + 1)
        logp = torch.log_softmax(self._logits(out.logits), dim=-1)  # column 0 = last context token
        del out
        results = []
        for b, (ctx, conts) in enumerate(batch):
            sc = Scored([], [], [c for c in conts], None, len(ctx))
            off = 1
            for cont in conts:
                cols = torch.tensor([0] + list(range(off, off + len(cont) - 1)), device=logp.device)
                sc.logprobs.append(self._option_logprob(logp[b, cols], cont))
                sc.n_tokens.append(len(cont))
                off += len(cont) - 1
            results.append(sc)
        return results

    def _attn_mask(self, allowed):
        """A boolean 4-D mask as the attention kernel takes it: as is for sdpa, additive (0 / dtype min) for eager."""
        if self.attn != "eager":
            return allowed
        import torch

        dtype = next(self.model.parameters()).dtype
        return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)

    def _kv_rows(self, cache, rows: list[int]):
        """A new cache holding the given batch rows (copies; the source cache is unchanged)."""
        import torch
        from transformers import DynamicCache

        if cache.get_seq_length() == 0:
            return DynamicCache()
        index = torch.tensor(rows, dtype=torch.long, device=cache.layers[0].keys.device)
        data = [(layer.keys.index_select(0, index), layer.values.index_select(0, index)) for layer in cache.layers]
        return DynamicCache(ddp_cache_data=data)

    def _run_batch_kv(self, batch, rank, generate, caps):
        import torch

        cache, lens, width = self._prefix(batch)
        results = [Scored([], [], [c for c in conts], None, len(ctx)) for ctx, conts in batch]
        if rank:
            rows = [(b, j) for b, (_, conts) in enumerate(batch) for j in range(len(conts))]
            per = max(1, min(self.max_option_rows, self.option_cache_budget // max(width, 1)))
            for s in range(0, len(rows), per):
                chunk = rows[s:s + per]
                seqs = [[batch[b][0][-1]] + batch[b][1][j][:-1] for b, j in chunk]
                m = max(len(x) for x in seqs)
                ids = torch.full((len(chunk), m), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), width + m), dtype=torch.long)
                pos = torch.zeros((len(chunk), m), dtype=torch.long)
                for r, ((b, j), seq) in enumerate(zip(chunk, seqs)):
                    ids[r, :len(seq)] = torch.tensor(seq)
                    mask[r, :lens[b]] = 1
                    mask[r, width:width + len(seq)] = 1
                    pos[r] = torch.arange(lens[b], lens[b] + m)
                sub = self._kv_rows(cache, [b for b, _ in chunk])
                out = self._forward(ids, mask, pos, cache=sub)
                logp = torch.log_softmax(self._logits(out.logits), dim=-1)
                del sub, out
                for r, (b, j) in enumerate(chunk):
                    cont = batch[b][1][j]
                    results[b].logprobs.append(self._option_logprob(logp[r, :len(cont)], cont))
                    results[b].n_tokens.append(len(cont))
        if generate:
            gens = self._greedy(cache, lens, width, [ctx[-1] for ctx, _ in batch], caps)
            for r, g in zip(results, gens):
                r.generation = g
        return results

    def _stop_sets(self):
        """(bool tensor: token decodes to text containing a newline, set of EOS ids); cached per tokenizer."""
        if self._newline_ids is None:
            self._newline_ids = newline_token_mask(self.tok)
            stops = set()
            for tid in (self.tok.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
                if isinstance(tid, int):
                    stops.add(tid)
                elif isinstance(tid, (list, tuple)):
                    stops.update(int(t) for t in tid)
            self._stop_ids = stops
        return self._newline_ids, self._stop_ids

    def _greedy(self, cache, lens, width, last_tokens, caps):
        """Greedy decoding from a right-padded prefix cache; stop at newline or EOS."""
        import torch

        newline, stops = self._stop_sets()
        n = len(lens)
        d = self.device
        mask = torch.zeros((n, width), dtype=torch.long)
        for b in range(n):
            mask[b, :lens[b]] = 1
        mask = mask.to(d)
        cur = torch.tensor(last_tokens, dtype=torch.long, device=d).unsqueeze(1)
        pos = torch.tensor(lens, dtype=torch.long, device=d).unsqueeze(1)
        one = torch.ones((n, 1), dtype=torch.long, device=d)
        generated: list[list[int]] = [[] for _ in range(n)]
        done = [c <= 0 for c in caps]
        for _ in range(max(caps)):
            mask = torch.cat([mask, one], dim=1)
            out = self._forward(cur, mask, pos, cache=cache)
            nxt = self._logits(out.logits[:, -1, :]).argmax(dim=-1)
            picked = nxt.tolist()  # one device sync per generated position
            for b in range(n):
                if done[b]:
                    continue
                t = picked[b]
                if t in stops:
                    done[b] = True
                    continue
                generated[b].append(t)
                if (t < len(newline) and bool(newline[t])) or len(generated[b]) >= caps[b]:
                    done[b] = True
            if all(done):
                break
            cur = nxt.unsqueeze(1)
            pos = pos + 1
        return [trim_generation(self.tok.decode(g)) for g in generated]

    def _run_batch_full(self, batch, rank, generate, caps):
        """Exact fallback: one right-padded forward over context+option per option."""
        import torch

        results = [Scored([], [], [c for c in conts], None, len(ctx)) for ctx, conts in batch]
        if rank:
            rows = [(b, j) for b, (_, conts) in enumerate(batch) for j in range(len(conts))]
            for s in range(0, len(rows), self.max_option_rows):
                chunk = rows[s:s + self.max_option_rows]
                seqs = [batch[b][0] + batch[b][1][j][:-1] for b, j in chunk]
                m = max(len(x) for x in seqs)
                ids = torch.full((len(chunk), m), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), m), dtype=torch.long)
                for r, seq in enumerate(seqs):
                    ids[r, :len(seq)] = torch.tensor(seq)
                    mask[r, :len(seq)] = 1
                pos = torch.arange(m).unsqueeze(0).expand(len(chunk), -1)
                first = min(len(batch[b][0]) for b, _ in chunk) - 1
                out = self._forward(ids, mask, pos, logits_to_keep=m - first)
                logp = torch.log_softmax(self._logits(out.logits), dim=-1)
                for r, (b, j) in enumerate(chunk):
                    cont = batch[b][1][j]
                    start = len(batch[b][0]) - 1 - first
                    results[b].logprobs.append(self._option_logprob(logp[r, start:start + len(cont)], cont))
                    results[b].n_tokens.append(len(cont))
        if generate:
            for b, (ctx, _) in enumerate(batch):  # unbatched, no cache tricks: exact for any model
                results[b].generation = self._greedy_plain(ctx, caps[b])
        return results

    def _greedy_plain(self, ctx, max_new_tokens):
        import torch

        newline, stops = self._stop_sets()
        ids = torch.tensor([ctx], device=self.device)
        out = self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                  do_sample=False, pad_token_id=self.pad_id, eos_token_id=sorted(stops) or None)
        gen = []
        for t in out[0, len(ctx):].tolist():
            if t in stops:
                break
            gen.append(t)
            if t < len(newline) and bool(newline[t]):
                break
        return trim_generation(self.tok.decode(gen))


_NEWLINE_CACHE: dict = {}


def newline_token_mask(tok):
    """Tokens whose text contains a newline. Candidates are found from the raw token strings
    (byte-level BPE 'Ċ', SentencePiece '<0x0A>' or a literal newline), then confirmed by decoding."""
    import torch

    key = (tok.name_or_path, len(tok))
    if key not in _NEWLINE_CACHE:
        raw = tok.convert_ids_to_tokens(list(range(len(tok))))
        marks = ("\u010a", "\n", "<0x0A>", "\r", "\u010d")
        cand = [i for i, w in enumerate(raw) if w and any(m in w for m in marks)]
        mask = torch.zeros(len(tok), dtype=torch.bool)
        for i in cand:
            if "\n" in tok.decode([i]):
                mask[i] = True
        _NEWLINE_CACHE[key] = mask
    return _NEWLINE_CACHE[key]
