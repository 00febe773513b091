"""What each prompt shows: seeded exemplar and query draws for tuning rows and evaluation prompts.

    from symtune.prompting.sampling import draw_row_examples, queries
    q_cls, query_j, exemplars = draw_row_examples(groups, 2, 10, rng)  # a tuning row (data/build.py)
    for qu in queries(task, cfg, "icl", groups, k, templates):          # one Query per sampled doc_id
        qu.fmt, qu.exemplars, qu.rng                                    # its template, k per class, its RNG

A tuning row draws from random.Random("symtune-data:{seed}:{i}"); an evaluation prompt from
"{seed}|{suite}|{task}|{doc_id}" (dev: "{seed}|dev|..."). Test queries come from the task's query split;
dev queries from its exemplar split, never a test query and never among their own exemplars
(docs/EVALUATION.md).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from typing import TYPE_CHECKING

from symtune.errors import SymtuneError

if TYPE_CHECKING:
    from symtune.eval.config import EvalConfig


@functools.lru_cache(maxsize=1)
def eval_symbol_pool():
    from symtune.prompting.symbols import SymbolPool

    return SymbolPool(pool="eval")


def templates_for(cfg: EvalConfig):
    from symtune.prompting.templates import TEMPLATES, get_template

    return [get_template(i) for i in cfg.templates] if cfg.templates else list(TEMPLATES)


def sample_queries(examples, n_classes: int, limit: int, rng: random.Random) -> list[int]:
    """Indices of at most `limit` queries, class-balanced round robin (all when there are fewer)."""
    if limit <= 0:
        raise SymtuneError(f"--limit must be at least 1, got {limit}")
    if len(examples) <= limit:
        return list(range(len(examples)))
    groups = [[i for i, e in enumerate(examples) if e.label == c] for c in range(n_classes)]
    for g in groups:
        rng.shuffle(g)
    chosen: list[int] = []
    while len(chosen) < limit:
        for g in groups:
            if g and len(chosen) < limit:
                chosen.append(g.pop())
    return sorted(chosen)


def check_classes(task, k: int) -> list:
    groups = task.by_class(task.exemplar_split)
    for c, g in enumerate(groups):
        if len(g) < k:
            raise SymtuneError(
                f"task {task.name}: class '{task.labels[c]}' has {len(g)} exemplars in split "
                f"'{task.exemplar_split}', fewer than k={k}; lower --k or add examples of that class")
    return groups


def source_id(ex) -> str:
    """A source item's identity across tasks: a short hash of its text (and text pair)."""
    from symtune.provenance import text_hash

    return text_hash(ex.text if ex.text_pair is None else ex.text + "\n" + ex.text_pair)[:16]


def draw_exemplars(task, groups, query, k: int, rng: random.Random, strict: bool = False) -> list:
    """k exemplars per class, never the query, shuffled. strict (dev split): the query is left out by
    text before drawing, so a duplicate of it can never be shown either."""
    if strict:
        qkey = (query.text, query.text_pair)
        exemplars = []
        for c, g in enumerate(groups):
            cands = [e for e in g if (e.text, e.text_pair) != qkey]
            if len(cands) < k:
                raise SymtuneError(
                    f"task {task.name}: class '{task.labels[c]}' has fewer than k={k} exemplars other than the "
                    "query; lower --k or add examples of that class")
            exemplars += rng.sample(cands, k)
        rng.shuffle(exemplars)
        return exemplars
    exemplars = []
    for c, g in enumerate(groups):
        picks = rng.sample(range(len(g)), min(len(g), k + 1))
        chosen = [g[i] for i in picks if g[i] != query][:k]  # never the query itself (RAFT-style splits)
        if len(chosen) < k:
            # Several copies of the query's text were drawn: top up from the examples that differ from
            # it (only here, so the usual draw and its prompts stay as they were).
            taken = {i for i in picks if g[i] != query}
            usable = [i for i in range(len(g)) if g[i] != query and i not in taken]
            need = k - len(chosen)
            if len(usable) < need:
                copies = sum(ex == query for ex in g)
                raise SymtuneError(
                    f"task {task.name}: class '{task.labels[c]}' has {len(g)} examples in split "
                    f"'{task.exemplar_split}', but {copies} are copies of query text {query.text[:40]!r}, "
                    f"leaving {len(g) - copies} usable exemplars, fewer than k={k}; lower --k or remove "
                    "the duplicates")
            chosen += [g[i] for i in rng.sample(usable, need)]
        exemplars += chosen
    rng.shuffle(exemplars)
    return exemplars


def draw_row_examples(groups: list[list[int]], min_k: int, max_k: int,
                      rng: random.Random) -> tuple[int, int, list[tuple[int, int]]]:
    """A tuning row's draw (data/build.py): the query's class, its example index, and min_k..max_k
    exemplars per class (never the query), shuffled, as (example index, row class); `groups` holds the
    example indices of each class the row shows."""
    q_cls = rng.randrange(len(groups))
    chosen: list[list[int]] = []
    query_j = None
    for c, group in enumerate(groups):
        avail = len(group) - (1 if c == q_cls else 0)
        n_c = min(rng.randint(min_k, max_k), avail)
        picks = rng.sample(group, n_c + (1 if c == q_cls else 0))
        if c == q_cls:
            query_j = picks.pop()
        chosen.append(picks)
    exemplars = [(j, c) for c, picks in enumerate(chosen) for j in picks]
    rng.shuffle(exemplars)
    return q_cls, query_j, exemplars


def _text_key(ex) -> tuple:
    return ex.text, ex.text_pair


def query_pool(task, cfg: EvalConfig) -> tuple[list, list[int]]:
    """(examples, sampled doc ids) of the configured split.

    test: `limit` queries from the query split (seed stream "{seed}|queries|{task}"), as always.
    dev: `dev_limit` queries from the exemplar split (stream "{seed}|dev|queries|{task}"), leaving out
    every text that is a test query (the whole query split; when both splits are one split, the test
    evaluation's sampled queries), so dev and test never share a query.
    """
    if cfg.split != "dev":
        queries = task.examples(task.query_split)
        return queries, sample_queries(queries, task.num_classes, cfg.limit,
                                       random.Random(f"{cfg.seed}|queries|{task.name}"))
    pool = task.examples(task.exemplar_split)
    test_q = task.examples(task.query_split)
    if task.query_split == task.exemplar_split:
        test_ids = sample_queries(test_q, task.num_classes, cfg.limit, random.Random(f"{cfg.seed}|queries|{task.name}"))
        blocked = {_text_key(test_q[i]) for i in test_ids}
    else:
        blocked = {_text_key(e) for e in test_q}
    cands = [i for i, e in enumerate(pool) if _text_key(e) not in blocked]
    if not cands:
        raise SymtuneError(f"task {task.name}: no example of split '{task.exemplar_split}' is free for dev queries "
                           "(all are test queries); use --split test or add examples")
    picked = sample_queries([pool[i] for i in cands], task.num_classes, cfg.dev_limit,
                            random.Random(f"{cfg.seed}|dev|queries|{task.name}"))
    return pool, sorted(cands[j] for j in picked)


def stream(cfg: EvalConfig, suite: str, task, doc_id: int) -> random.Random:
    """The per-query RNG: test keeps the original streams; dev uses its own ("{seed}|dev|...")."""
    dev = "dev|" if cfg.split == "dev" else ""
    return random.Random(f"{cfg.seed}|{dev}{suite}|{task.name}|{doc_id}")


def shown(pairs: list, labels: list[str]) -> list[int]:
    """Option index each rendered exemplar showed, in prompt order."""
    index = {lab: i for i, lab in enumerate(labels)}
    return [index[lab] for _, lab in pairs]


def symbol_meta(labels: list[str]) -> dict:
    from symtune.prompting.symbols import symbol_family

    return {"families": [symbol_family(s) for s in labels]}


def permuted(symbols: list[str]) -> tuple[list[str], list[int]]:
    """The permutation control's assignment: class c shows the symbol of class c+1 (binary: swapped)."""
    perm = [(c + 1) % len(symbols) for c in range(len(symbols))]
    return [symbols[p] for p in perm], perm


@dataclass
class Query:
    """One sampled query and its per-query draws, shared by every prompt built for it."""

    doc_id: int
    example: object  # tasks.base.Example
    rng: random.Random
    fmt: object  # prompts.PromptFormat
    exemplars: list


def queries(task, cfg: EvalConfig, suite: str, groups: list, k: int, templates: list):
    """The per-query preamble of every classification suite: its RNG stream, template and exemplars."""
    examples, qids = query_pool(task, cfg)
    for doc_id in qids:
        q = examples[doc_id]
        rng = stream(cfg, suite, task, doc_id)
        fmt = templates[rng.randrange(len(templates))]
        yield Query(doc_id, q, rng, fmt, draw_exemplars(task, groups, q, k, rng, cfg.split == "dev"))
