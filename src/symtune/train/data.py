"""Training rows -> token ids and label masks; the batch collator (padded or packed).

Tokenization rule (same as evaluation): the prompt and prompt+completion are tokenized separately;
the prompt's token ids must be a prefix of the full sequence's ids, and the completion tokens are
the suffix after them. Labels are -100 everywhere except at supervised tokens:

- loss `label`: the completion tokens (plus EOS when `add_eos`);
- loss `dense`: also the tokens of every exemplar label (`meta.exemplar_labels`, character spans
  [start, end) with `class`) whose class already appeared earlier in the same prompt. The first
  occurrence of a class cannot be predicted from the context, so it is never supervised. A token is
  part of a label when it overlaps the span, or when it lies entirely in the whitespace just before
  the span (the delimiter, which belongs to the completion " y" for the query too). With
  `dense_min_seen` N, only labels whose answer is determined by the context: every class of the prompt
  shown before and its own class at least N times, in symbol rows only. With `dense_weight` w, per-token
  weights: a row's exemplar-label tokens share w, its completion tokens 1 - w, summing to the row's
  completion tokens (its weight under loss `label`).

With `natural_loss: kl`, a row of the natural share (`meta.label_mode` natural and `meta.natural_share`
not false) is marked `kl`: its supervised positions are trained toward the base model's distribution
(train/loss.py) instead of its labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from symtune.errors import SymtuneError

IGNORE = -100


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    n_completion: int
    n_dense: int = 0
    kl: bool = False  # supervised positions use KL to the base model (natural_loss kl, natural row)
    weights: list[float] | None = None  # per position, aligned with labels (dense_weight); None = 1 each


@dataclass
class EncodeStats:
    rows: int = 0
    kept: int = 0
    dropped_overlong: int = 0
    completion_tokens: int = 0
    dense_tokens: int = 0
    max_tokens: int = 0
    total_tokens: int = 0
    kl_rows: int = 0

    def as_dict(self) -> dict:
        return {"rows": self.rows, "kept": self.kept, "dropped_overlong": self.dropped_overlong,
                "completion_tokens": self.completion_tokens, "dense_tokens": self.dense_tokens,
                "max_tokens": self.max_tokens, "mean_tokens": round(self.total_tokens / max(self.kept, 1), 1),
                "kl_rows": self.kl_rows}


def _checked(rows: list[dict], p: Path) -> list[dict]:
    """Rows read through `datasets`: the same checks as JSONL lines, naming the row."""
    for i, row in enumerate(rows, 1):
        for key in ("prompt", "completion"):
            if not isinstance(row.get(key), str):
                raise SymtuneError(f"{p}: row {i} has no string '{key}'; rows need prompt and completion "
                                   "(or messages, or tasksource's inputs and targets)")
        if not row["completion"]:
            raise SymtuneError(f"{p}: row {i} has an empty completion; every row needs a label to learn")
        row["_line"] = i
    if not rows:
        raise SymtuneError(f"data {p} holds no rows; build data with `symtune data`")
    return rows


def load_rows(path: str) -> list[dict]:
    """Read and check training rows; one-line errors naming the file and line."""
    if not path:
        raise SymtuneError("no training data given; pass --data FILE.jsonl (rows written by `symtune data`)")
    p = Path(path)
    from symtune.data import formats

    if formats.is_table(p):  # Parquet or a save_to_disk folder (`symtune data --format parquet|hf-dataset`)
        return _checked(formats.read_table(p), p)
    if p.is_dir():
        raise SymtuneError(f"data file {p} is a folder; pass a JSONL file written by `symtune data`")
    if not p.is_file():
        raise SymtuneError(f"data file {p} does not exist; pass a JSONL file written by `symtune data`")
    rows = []
    with open(p, "rb") as fh:
        for i, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if i == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise SymtuneError(f"{p}:{i}: not UTF-8 (byte {e.start} of the line); re-save the file as UTF-8 "
                                   "(e.g. iconv -f latin1 -t utf-8) or rebuild it with `symtune data`") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SymtuneError(f"{p}:{i}: not valid JSON ({e.msg}); each line must be one JSON object") from None
            if not isinstance(row, dict):
                raise SymtuneError(f"{p}:{i}: each line must be a JSON object with prompt and completion")
            row = formats.normalize(row)  # messages and tasksource rows -> prompt/completion
            for key in ("prompt", "completion"):
                if not isinstance(row.get(key), str):
                    raise SymtuneError(f"{p}:{i}: row has no string '{key}'; rows need prompt and completion")
            if not row["completion"]:
                raise SymtuneError(f"{p}:{i}: empty completion; every row needs a label to learn")
            row["_line"] = i
            rows.append(row)
    if not rows:
        raise SymtuneError(f"data file {p} holds no rows; build data with `symtune data`")
    return rows


def _label_token_positions(offsets: list[tuple[int, int]], text: str, start: int, end: int, limit: int) -> list[int]:
    """Token indices (< limit) that make up the label text[start:end] including its leading delimiter space."""
    ws_start = start
    while ws_start > 0 and text[ws_start - 1] in " \t":
        ws_start -= 1
    out = []
    for i, (a, b) in enumerate(offsets[:limit]):
        if b <= a:
            continue  # special tokens
        if a < end and b > start:
            out.append(i)
        elif ws_start <= a and b <= start:
            out.append(i)  # a whitespace-only delimiter token right before the label
    return out


def dense_positions(meta: dict, prompt: str, offsets: list[tuple[int, int]], n_prompt: int, where: str,
                    min_seen: int | None = None) -> list[int]:
    """Token positions of the exemplar labels whose class was already shown earlier in the prompt; with
    `min_seen`, of those whose answer is determined: every class of the prompt (the exemplars' classes and
    the query's) shown before, its own at least `min_seen` times."""
    spans = (meta or {}).get("exemplar_labels")
    if spans is None:
        raise SymtuneError(f"{where}: loss 'dense' needs meta.exemplar_labels (character spans of the exemplar "
                           "labels); rebuild the data with `symtune data` or use --loss label")
    seen: dict = {}  # class -> times shown so far
    try:
        classes = {s["class"] for s in spans} | ({meta["query_class"]} if "query_class" in meta else set())
    except (KeyError, TypeError):
        raise SymtuneError(f"{where}: meta.exemplar_labels entries need start, end and class") from None
    positions: list[int] = []
    for s in sorted(spans, key=lambda s: s["start"]):
        try:
            start, end, cls = int(s["start"]), int(s["end"]), s["class"]
        except (KeyError, TypeError, ValueError):
            raise SymtuneError(f"{where}: meta.exemplar_labels entries need start, end and class") from None
        if not (0 <= start < end <= len(prompt)):
            raise SymtuneError(f"{where}: exemplar label span [{start},{end}) lies outside the prompt")
        if min_seen is None:
            take = cls in seen
        else:  # before every class was shown, the best guess is a prior (majority, recency), not the mapping
            take = seen.get(cls, 0) >= min_seen and len(seen) == len(classes)
        if take:
            positions.extend(_label_token_positions(offsets, prompt, start, end, n_prompt))
        seen[cls] = seen.get(cls, 0) + 1
    return sorted(set(positions))


def encode_row(tok, row: dict, loss: str = "label", add_eos: bool = False, where: str = "row",
               dense_min_seen: int | None = None, dense_weight: float | None = None) -> Encoded:
    prompt, completion = row["prompt"], row["completion"]
    p_ids = tok(prompt, add_special_tokens=True)["input_ids"]
    need_offsets = loss == "dense"
    full = tok(prompt + completion, add_special_tokens=True, return_offsets_mapping=need_offsets)
    ids = list(full["input_ids"])
    if ids[:len(p_ids)] != list(p_ids):
        raise SymtuneError(
            f"{where}: the prompt's tokens are not a prefix of prompt+completion's tokens (the completion "
            f"{completion!r} merges with the prompt's end); end the prompt at the label prefix and start the "
            "completion with the delimiter, e.g. prompt '...Output:' and completion ' label'")
    n_prompt = len(p_ids)
    n_comp = len(ids) - n_prompt
    if n_comp <= 0:
        raise SymtuneError(f"{where}: the completion {completion!r} is empty after tokenization")
    if add_eos:
        if tok.eos_token_id is None:
            raise SymtuneError("add_eos is set but the tokenizer has no EOS token; unset add_eos")
        ids.append(tok.eos_token_id)
        n_comp += 1
    labels = [IGNORE] * n_prompt + ids[n_prompt:]
    n_dense = 0
    dense: list[int] = []
    meta = row.get("meta") or {}
    if loss == "dense" and not (dense_min_seen is not None and meta.get("label_mode") == "natural"):
        dense = dense_positions(meta, prompt, full["offset_mapping"], n_prompt, where, dense_min_seen)
        for pos in dense:
            labels[pos] = ids[pos]
            n_dense += 1
    weights = None
    if dense_weight is not None:
        weights = [0.0] * n_prompt + [1.0] * n_comp
        if dense:  # the row keeps its label-loss weight n_comp: (1 - w) on the query, w shared by the rest
            for pos in range(n_prompt, len(ids)):
                weights[pos] = 1.0 - dense_weight
            for pos in dense:
                weights[pos] = dense_weight * n_comp / len(dense)
    return Encoded(ids, labels, n_comp, n_dense, weights=weights)


def in_natural_share(row: dict) -> bool:
    """A natural-label row of the recipe's natural share (meta.natural_share; rows written without it count
    when their label_mode is natural). The natural-labels control's other rows are not in it."""
    meta = row.get("meta")
    return isinstance(meta, dict) and meta.get("label_mode") == "natural" and meta.get("natural_share", True) is True


def encode_rows(tok, rows: list[dict], *, loss: str, add_eos: bool, max_length: int, overlong: str,
                source: str, natural_loss: str = "ce", dense_min_seen: int | None = None,
                dense_weight: float | None = None) -> tuple[list[Encoded], EncodeStats]:
    if loss == "dense" and not getattr(tok, "is_fast", False):
        raise SymtuneError("loss 'dense' needs a fast tokenizer (offset mapping); use --loss label")
    stats = EncodeStats(rows=len(rows))
    out = []
    for row in rows:
        where = f"{source}:{row.get('_line', '?')}"
        enc = encode_row(tok, row, loss=loss, add_eos=add_eos, where=where, dense_min_seen=dense_min_seen,
                         dense_weight=dense_weight)
        if len(enc.input_ids) > max_length:
            if overlong == "error":
                raise SymtuneError(f"{where}: row is {len(enc.input_ids)} tokens, longer than max_length "
                                   f"{max_length}; raise --max-length or set overlong: drop")
            stats.dropped_overlong += 1
            continue
        enc.kl = natural_loss == "kl" and in_natural_share(row)
        out.append(enc)
        stats.kept += 1
        stats.kl_rows += int(enc.kl)
        stats.completion_tokens += enc.n_completion
        stats.dense_tokens += enc.n_dense
        stats.total_tokens += len(enc.input_ids)
        stats.max_tokens = max(stats.max_tokens, len(enc.input_ids))
    if not out:
        raise SymtuneError(f"{source}: all {len(rows)} rows are longer than max_length {max_length}; "
                           "raise --max-length")
    return out, stats


class EncodedDataset:
    """A map-style dataset over encoded rows (what the Trainer's dataloader samples from)."""

    def __init__(self, items: list[Encoded]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        e = self.items[i]
        out = {"input_ids": e.input_ids, "labels": e.labels, "kl": e.kl}
        if e.weights is not None:
            out["weights"] = e.weights
        return out


class Collator:
    """Right-pads a list of rows, or packs them into one row (`packing`).

    Returns input_ids, attention_mask (padded only), position_ids (packed only), labels (aligned with
    input_ids, HF convention) and shift_labels (labels[t+1] at position t, -100 at each row's end), which
    the loss and Trainer's token count (`num_items_in_batch`) use; and shift_kl (bool, like shift_labels:
    True on the positions of rows trained by KL to the base model) when any row of the batch is one.
    With `weighted` (dense_weight): shift_weight (float, like shift_labels: each supervised position's
    weight) and shift_query (shift_labels at the completion positions only: what Trainer counts, since a
    row's weights sum to its completion tokens).
    """

    def __init__(self, pad_id: int, packing: bool = False, weighted: bool = False):
        self.pad_id = pad_id
        self.packing = packing
        self.weighted = weighted

    def _weights(self, f: dict) -> list[float]:
        if "weights" in f:
            return f["weights"]
        return [0.0 if y == IGNORE else 1.0 for y in f["labels"]]

    def __call__(self, feats: list[dict]) -> dict:
        import torch

        if self.packing:
            ids, labels, shift, pos = [], [], [], []
            for f in feats:
                n = len(f["input_ids"])
                ids += f["input_ids"]
                labels += f["labels"]
                shift += f["labels"][1:] + [IGNORE]
                pos += list(range(n))
            t = lambda x: torch.tensor([x], dtype=torch.long)  # noqa: E731
            out = {"input_ids": t(ids), "position_ids": t(pos), "labels": t(labels), "shift_labels": t(shift)}
            if any(f.get("kl") for f in feats):
                out["shift_kl"] = torch.tensor([[bool(f.get("kl")) for f in feats for _ in f["input_ids"]]])
            if self.weighted:
                w = [x for f in feats for x in self._weights(f)[1:] + [0.0]]
                out["shift_weight"] = torch.tensor([w], dtype=torch.float32)
                out["shift_query"] = torch.tensor([[y if q else IGNORE for f in feats for y, q in zip(
                    f["labels"][1:] + [IGNORE], self._query_mask(f)[1:] + [False])]])
            return out
        n = max(len(f["input_ids"]) for f in feats)
        b = len(feats)
        input_ids = torch.full((b, n), self.pad_id, dtype=torch.long)
        attn = torch.zeros((b, n), dtype=torch.long)
        labels = torch.full((b, n), IGNORE, dtype=torch.long)
        for i, f in enumerate(feats):
            k = len(f["input_ids"])
            input_ids[i, :k] = torch.tensor(f["input_ids"])
            attn[i, :k] = 1
            labels[i, :k] = torch.tensor(f["labels"])
        shift = torch.full_like(labels, IGNORE)
        shift[:, :-1] = labels[:, 1:]
        out = {"input_ids": input_ids, "attention_mask": attn, "labels": labels, "shift_labels": shift}
        if any(f.get("kl") for f in feats):
            out["shift_kl"] = torch.tensor([bool(f.get("kl")) for f in feats])[:, None].expand(b, n).clone()
        if self.weighted:
            weight = torch.zeros((b, n), dtype=torch.float32)
            query = torch.zeros((b, n), dtype=torch.bool)
            for i, f in enumerate(feats):
                k = len(f["input_ids"])
                weight[i, :k] = torch.tensor(self._weights(f), dtype=torch.float32)
                query[i, :k] = torch.tensor(self._query_mask(f))
            out["shift_weight"] = torch.zeros_like(weight)
            out["shift_weight"][:, :-1] = weight[:, 1:]
            q = torch.zeros_like(query)
            q[:, :-1] = query[:, 1:]
            out["shift_query"] = torch.where(q, shift, torch.full_like(shift, IGNORE))
        return out

    @staticmethod
    def _query_mask(f: dict) -> list[bool]:
        """True at the completion tokens: the supervised suffix after the last unsupervised position."""
        labels = f["labels"]
        k = len(labels)
        while k > 0 and labels[k - 1] != IGNORE:
            k -= 1
        return [i >= k for i in range(len(labels))]
