"""Evaluation suites: the prompts (items) each suite scores. Building prompts never touches the model.

* icl: held-out tasks in the paper's four settings (§3.2): instruction yes/no x natural labels or
  symbols from the EVAL pool. Per query: one RNG derived from (seed, suite, task, doc_id) draws the
  template, k exemplars per class (never the query itself) and the symbols; the four settings of a
  query share template, exemplars and order, and differ only in the labels shown and the instruction.
  The same seed gives the same prompts byte for byte, for any model with the same tokenizer.
* flipped: binary tasks, natural labels. Paper protocol (§6): exemplar labels AND the query's gold
  are flipped (a model that follows the exemplars scores above chance). With `flip_proportion` p:
  the Wei et al. 2023a protocol, a proportion p of exemplar labels flipped, gold unchanged.
* algorithmic: BIG-bench List Functions (20 subtasks, 4-shot from the subtask's other examples) and
  Simple Turing Concepts (additional_set_2, concepts with <= 3 instructions, predetermined shots);
  open-ended, greedy generation + exact match.

* flip_curve (opt-in): binary tasks, natural labels, a nested proportion of exemplar labels flipped
  (0, 25, 50, 75, 100% by default), gold unchanged; template and exemplars are the flipped suite's.
* k_curve (opt-in): `labels` and `symbols` at k = 1, 2, 4, 8 exemplars per class (nested draws).
* perm_control (with `permutation_control`): the symbol-setting prompts again with the class->symbol
  assignment permuted (binary: swapped), gold unchanged in class terms.

Splits: `test` (default) samples queries from the task's query split exactly as before; `dev` samples
them from the exemplar split with its own seed stream ("{seed}|dev|..."), leaves out any text that is
also a test query, and never shows a query among its own exemplars (compared by text).

Every classification row's meta says which source item the query is (`source`, a hash of its text,
shared by tasks that use the same utterance), which option each exemplar showed (`shown`, prompt
order) and, for symbols, each symbol's family (`families`); diagnostics and clustered intervals are
computed from these, never by rerunning a model.

Instruction placement: the task instruction is prepended once at the top of the prompt, followed by
a blank line (symtune.prompts.render). The reproduction notebook instead repeats it in every
exemplar (appendix §3); symtune does not.
"""

from __future__ import annotations

import functools
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from symtune.errors import SymtuneError
from symtune.eval.config import ICL_SETTINGS, EvalConfig
from symtune.prompts import drop_order

SYMBOL_SETTINGS = ("instr+symbols", "symbols")
K_CURVE_SETTINGS = ("labels", "symbols")

# List Functions: the paper used "the 20 subtasks with the highest human accuracy" in 5 categories
# (A remove elements, B modify the list, C input-independent, D/E names lost). Rule (2020)'s human
# accuracies are not available, so these are picked by hand from the BIG-bench descriptions.
# NOT the paper's selection.
LIST_FUNCTIONS_CATEGORIES: dict[str, list[str]] = {
    "remove_elements": ["c029", "c049", "c062", "c064"],  # remove first two / element 1 / last / first+last
    "modify_list": ["c016", "c053", "c071", "c073"],  # el.2 := 8 / el.2 := el.1 / +2 each / +index
    "input_independent": ["c041", "c042", "c043", "c090"],  # constant lists
    "add_insert_elements": ["c037", "c046", "c050", "c065"],  # append 3 / prepend 7 / prepend el.1 / 9...7
    "reorder_copy": ["c045", "c066", "c070", "c080"],  # identity / left-rotate / twice / reverse
}
LF_SHOTS = 4
STC_MAX_INSTRUCTIONS = 3
FLIPPED_SETTING = "flipped"


@dataclass
class Item:
    """One prompt to score. `task` names the samples file; `key` the results row (task or subtask)."""

    suite: str
    task: str
    setting: str
    doc_id: int
    prompt: str
    options: list[str]  # label strings as shown (the continuation is " " + option); [] = open-ended
    gold: int | str  # option index (classification) or answer string (open-ended)
    key: str = ""
    meta: dict = field(default_factory=dict)
    max_new_tokens: int | None = None
    n_tokens: int = 0  # prompt + answer budget, filled by the length check

    @property
    def open_ended(self) -> bool:
        return not self.options

    @property
    def continuations(self) -> list[str]:
        return [" " + o for o in self.options]

    @property
    def chance(self) -> float:
        return 0.0 if self.open_ended else 1.0 / len(self.options)


class Budget:
    """Token-length check shared by all suites: prompt + longest option (or generation budget).

    A cheap estimate (prompt tokens + option tokens encoded alone) decides when it is clearly
    inside the limit; near the limit the exact lm-eval encoding (context+option) decides.
    """

    MARGIN = 4

    def __init__(self, encoder, max_length: int, chat=None):
        self.encoder = encoder
        self.max_length = max_length
        self.chat = chat  # a ChatWrap: prompts are measured as they will be served
        self._opt: dict = {}

    def _served(self, prompt: str) -> str:
        return self.chat.prompt(prompt) if self.chat else prompt

    def _opt_len(self, option: str) -> int:
        n = self._opt.get(option)
        if n is None:
            n = self._opt[option] = len(self.encoder._enc(" " + option))
        return n

    def need(self, prompt: str, options: list[str], new_tokens: int = 0) -> int:
        return self.encoder.token_length(self._served(prompt), [" " + o for o in options], new_tokens)

    def fits(self, prompt: str, options: list[str], new_tokens: int = 0) -> tuple[bool, int]:
        est = len(self.encoder.encode_context(self._served(prompt)))
        est += max([self._opt_len(o) for o in options] + [new_tokens])
        if est + self.MARGIN <= self.max_length:
            return True, est
        n = self.need(prompt, options, new_tokens)
        return n <= self.max_length, n


@functools.lru_cache(maxsize=1)
def eval_symbol_pool():
    from symtune.symbols import SymbolPool

    return SymbolPool(pool="eval")


def templates_for(cfg: EvalConfig):
    from symtune.prompts import TEMPLATES, get_template

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


def n_flipped(p: float, n: int) -> int:
    """How many of n exemplar labels a flip proportion p flips, in every suite: p * n rounded half up
    (Python's round() rounds halves to even: at p = 0.75 with 6 exemplars it flips 4, this 5)."""
    return int(p * n + 0.5)


def gen_budget(budget: Budget, options: list[str]) -> int:
    """Greedy budget for classification: the longest option's tokens + 2 (enough to see it end)."""
    longest = max(budget._opt_len(o) for o in options)
    return longest + 2


def _fit(task_name: str, doc_id: int, pairs: list, render: Callable[[list], str], options: list[str],
         budget: Budget, new_tokens: int) -> tuple[str, int, int, list]:
    """Render; while too long drop an exemplar of the class with the most left (keep one per class).

    Returns (prompt, exemplars dropped, token count, the pairs rendered)."""
    pairs = list(pairs)
    prompt = render(pairs)
    ok, n = budget.fits(prompt, options, new_tokens)
    if ok:
        return prompt, 0, n, pairs
    order = drop_order([ex.label for ex, _ in pairs])

    def after(d: int) -> list:  # the pairs left after the first d drops, in prompt order
        gone = set(order[:d])
        return [p for i, p in enumerate(pairs) if i not in gone]

    # One render of the fewest exemplars it may come to decides whether any fits; then the fewest drops
    # that fit, by bisection (every drop shortens the prompt), instead of one render per drop.
    least = after(len(order))
    prompt = render(least)
    ok, n = budget.fits(prompt, options, new_tokens)
    if not ok:
        raise SymtuneError(
            f"task {task_name}, query {doc_id}: the prompt needs {n} tokens with one exemplar per class, "
            f"over the limit of {budget.max_length}; raise --max-length or use shorter inputs")
    lo, hi, best = 0, len(order), (prompt, n, least)  # lo drops do not fit, hi drops do
    while hi - lo > 1:
        mid = (lo + hi) // 2
        used = after(mid)
        prompt = render(used)
        ok, n = budget.fits(prompt, options, new_tokens)
        if ok:
            hi, best = mid, (prompt, n, used)
        else:
            lo = mid
    return best[0], hi, best[1], best[2]


def _check_fits(task, budget: Budget) -> None:
    """Fail before drawing anything when one exemplar per class cannot fit: every exemplar takes at
    least one token, so a task with more classes than the token limit never fits."""
    if task.num_classes >= budget.max_length:
        raise SymtuneError(
            f"task {task.name} has {task.num_classes} classes: a prompt with one exemplar per class needs at "
            f"least {task.num_classes} tokens, over the limit of {budget.max_length}; raise --max-length or "
            "use a task with fewer classes")


def _check_classes(task, k: int) -> list:
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


def _draw_exemplars(task, groups, query, k: int, rng: random.Random, strict: bool = False) -> list:
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


def _stream(cfg: EvalConfig, suite: str, task, doc_id: int) -> random.Random:
    """The per-query RNG: test keeps the original streams; dev uses its own ("{seed}|dev|...")."""
    dev = "dev|" if cfg.split == "dev" else ""
    return random.Random(f"{cfg.seed}|{dev}{suite}|{task.name}|{doc_id}")


def _shown(pairs: list, labels: list[str]) -> list[int]:
    """Option index each rendered exemplar showed, in prompt order."""
    index = {lab: i for i, lab in enumerate(labels)}
    return [index[lab] for _, lab in pairs]


def _symbol_meta(labels: list[str]) -> dict:
    from symtune.symbols import symbol_family

    return {"families": [symbol_family(s) for s in labels]}


def permuted(symbols: list[str]) -> tuple[list[str], list[int]]:
    """The permutation control's assignment: class c shows the symbol of class c+1 (binary: swapped)."""
    perm = [(c + 1) % len(symbols) for c in range(len(symbols))]
    return [symbols[p] for p in perm], perm


def icl_items(task, cfg: EvalConfig, tokenizer, budget: Budget, settings=None) -> list[Item]:
    """The ICL suite's items for one task: every sampled query in every requested setting (plus the
    perm_control items of the symbol settings when `cfg.permutation_control`)."""
    from symtune.prompts import render

    settings = list(settings or (cfg.dev_settings if cfg.split == "dev" else cfg.settings))
    for s in settings:
        if s not in ICL_SETTINGS:
            raise SymtuneError(f"unknown setting '{s}'; choose from {', '.join(ICL_SETTINGS)}")
    groups = _check_classes(task, cfg.k)
    _check_fits(task, budget)
    queries, qids = query_pool(task, cfg)
    strict = cfg.split == "dev"
    tmpls = templates_for(cfg)
    pool = eval_symbol_pool()
    items = []
    for doc_id in qids:
        q = queries[doc_id]
        rng = _stream(cfg, "icl", task, doc_id)
        fmt = tmpls[rng.randrange(len(tmpls))]
        exemplars = _draw_exemplars(task, groups, q, cfg.k, rng, strict)
        symbols = pool.sample(task.num_classes, rng, tokenizer=tokenizer)  # drawn for every setting set
        variants = [("icl", s, None) for s in settings]
        if cfg.permutation_control:
            variants += [("perm_control", s, permuted(symbols)) for s in settings if s in SYMBOL_SETTINGS]
        for suite, setting, perm in variants:
            labels = list(task.labels) if setting.endswith("labels") else (perm[0] if perm else symbols)
            instruction = task.instruction if setting.startswith("instr+") else None
            pairs = [(ex, labels[ex.label]) for ex in exemplars]
            new_tokens = gen_budget(budget, labels) if cfg.scoring == "generate" else 0
            prompt, dropped, n, used = _fit(task.name, doc_id, pairs,
                                            lambda ps: render(fmt, ps, q, instruction).prompt,
                                            labels, budget, new_tokens)
            meta = {"template": fmt.id, "labels": labels, "instruction": instruction is not None,
                    "n_exemplars": len(pairs) - dropped, "shortened": dropped > 0, "query_class": q.label,
                    "source": source_id(q), "shown": _shown(used, labels)}
            if not setting.endswith("labels"):
                meta.update(_symbol_meta(labels))
            if perm:
                meta["permutation"] = perm[1]
            items.append(Item(suite, task.name, setting, doc_id, prompt, labels, q.label, key=task.name,
                              meta=meta, max_new_tokens=new_tokens or None, n_tokens=n))
    return items


def flip_protocol(cfg: EvalConfig) -> str:
    if cfg.flip_proportion is None:
        return "paper: all exemplar labels and the query's gold flipped"
    return f"proportion: {cfg.flip_proportion:g} of exemplar labels flipped, gold unchanged"


def flipped_items(task, cfg: EvalConfig, tokenizer, budget: Budget) -> list[Item]:
    from symtune.prompts import render

    if task.num_classes != 2:
        raise SymtuneError(f"task {task.name} has {task.num_classes} classes; flipped labels need a binary task")
    p = cfg.flip_proportion
    if p is not None and not 0.0 <= p <= 1.0:
        raise SymtuneError(f"--flip-proportion must be between 0 and 1, got {p}")
    groups = _check_classes(task, cfg.k)
    queries, qids = query_pool(task, cfg)
    tmpls = templates_for(cfg)
    labels = list(task.labels)
    items = []
    for doc_id in qids:
        q = queries[doc_id]
        rng = _stream(cfg, "flipped", task, doc_id)
        fmt = tmpls[rng.randrange(len(tmpls))]
        exemplars = _draw_exemplars(task, groups, q, cfg.k, rng, cfg.split == "dev")
        if p is None:
            flip = set(range(len(exemplars)))
            gold = 1 - q.label
        else:
            flip = set(rng.sample(range(len(exemplars)), n_flipped(p, len(exemplars))))
            gold = q.label
        pairs = [(ex, labels[1 - ex.label] if i in flip else labels[ex.label]) for i, ex in enumerate(exemplars)]
        instruction = task.instruction if cfg.flip_instruction else None
        new_tokens = gen_budget(budget, labels) if cfg.scoring == "generate" else 0
        prompt, dropped, n, used = _fit(task.name, doc_id, pairs, lambda ps: render(fmt, ps, q, instruction).prompt,
                                        labels, budget, new_tokens)
        items.append(Item("flipped", task.name, FLIPPED_SETTING, doc_id, prompt, labels, gold, key=task.name,
                          meta={"template": fmt.id, "labels": labels, "instruction": instruction is not None,
                                "n_exemplars": len(pairs) - dropped, "shortened": dropped > 0,
                                "query_class": q.label, "n_flipped": len(flip), "protocol": flip_protocol(cfg),
                                "source": source_id(q), "shown": _shown(used, labels)},
                          max_new_tokens=new_tokens or None, n_tokens=n))
    return items


def flip_setting(p: float) -> str:
    return f"p{p:.2f}"


def flip_curve_items(task, cfg: EvalConfig, tokenizer, budget: Budget) -> list[Item]:
    """Binary task, natural labels: per query one prompt per flip proportion, gold unchanged.

    Template and exemplars come from the flipped suite's stream, so the 100% prompt is the flipped
    suite's paper-protocol prompt (there the gold is flipped: its accuracy is 1 - this one's). The
    flipped exemplars are nested: one shuffled order per query, the first n_flipped(p, n) are flipped.
    """
    from symtune.prompts import render

    if task.num_classes != 2:
        raise SymtuneError(f"task {task.name} has {task.num_classes} classes; the flip curve needs a binary task")
    props = list(cfg.flip_curve_proportions)
    if not props or any(not 0.0 <= p <= 1.0 for p in props) or len(set(map(flip_setting, props))) != len(props):
        raise SymtuneError(f"--flip-curve-proportions must be distinct numbers between 0 and 1, got {props}")
    groups = _check_classes(task, cfg.k)
    queries, qids = query_pool(task, cfg)
    tmpls = templates_for(cfg)
    labels = list(task.labels)
    instruction = task.instruction if cfg.flip_instruction else None
    new_tokens = gen_budget(budget, labels) if cfg.scoring == "generate" else 0
    items = []
    for doc_id in qids:
        q = queries[doc_id]
        rng = _stream(cfg, "flipped", task, doc_id)
        fmt = tmpls[rng.randrange(len(tmpls))]
        exemplars = _draw_exemplars(task, groups, q, cfg.k, rng, cfg.split == "dev")
        order = list(range(len(exemplars)))
        rng.shuffle(order)
        for p in sorted(props):
            flip = set(order[:n_flipped(p, len(exemplars))])
            pairs = [(ex, labels[1 - ex.label] if i in flip else labels[ex.label]) for i, ex in enumerate(exemplars)]
            prompt, dropped, n, used = _fit(task.name, doc_id, pairs,
                                            lambda ps: render(fmt, ps, q, instruction).prompt,
                                            labels, budget, new_tokens)
            shown_flipped = sum(lab != labels[ex.label] for ex, lab in used)
            items.append(Item("flip_curve", task.name, flip_setting(p), doc_id, prompt, labels, q.label,
                              key=task.name,
                              meta={"template": fmt.id, "labels": labels, "instruction": instruction is not None,
                                    "n_exemplars": len(used), "shortened": dropped > 0, "query_class": q.label,
                                    "proportion": p, "n_flipped": shown_flipped, "source": source_id(q),
                                    "shown": _shown(used, labels)},
                              max_new_tokens=new_tokens or None, n_tokens=n))
    return items


def k_setting(setting: str, k: int) -> str:
    return f"{setting}@k{k}"


def k_curve_items(task, cfg: EvalConfig, tokenizer, budget: Budget) -> list[Item]:
    """`labels` and `symbols` at each k of cfg.k_curve exemplars per class, for the split's queries.

    Per query one draw of max(k) exemplars per class (shuffled) and one set of symbols; the prompt at
    k keeps, per class, the first k of them in the drawn order, so the curve's points are nested.
    """
    from symtune.prompts import render

    ks = sorted(set(cfg.k_curve))
    if not ks or ks[0] < 1:
        raise SymtuneError(f"--k-curve must list exemplar counts of at least 1, got {cfg.k_curve}")
    groups = _check_classes(task, ks[-1])
    _check_fits(task, budget)
    queries, qids = query_pool(task, cfg)
    tmpls = templates_for(cfg)
    pool = eval_symbol_pool()
    items = []
    for doc_id in qids:
        q = queries[doc_id]
        rng = _stream(cfg, "k_curve", task, doc_id)
        fmt = tmpls[rng.randrange(len(tmpls))]
        drawn = _draw_exemplars(task, groups, q, ks[-1], rng, cfg.split == "dev")
        symbols = pool.sample(task.num_classes, rng, tokenizer=tokenizer)
        for k in ks:
            seen: Counter = Counter()
            exemplars = []
            for ex in drawn:
                if seen[ex.label] < k:
                    seen[ex.label] += 1
                    exemplars.append(ex)
            for setting in K_CURVE_SETTINGS:
                labels = list(task.labels) if setting == "labels" else symbols
                pairs = [(ex, labels[ex.label]) for ex in exemplars]
                new_tokens = gen_budget(budget, labels) if cfg.scoring == "generate" else 0
                prompt, dropped, n, used = _fit(task.name, doc_id, pairs,
                                                lambda ps: render(fmt, ps, q, None).prompt,
                                                labels, budget, new_tokens)
                meta = {"template": fmt.id, "labels": labels, "instruction": False, "k": k,
                        "n_exemplars": len(used), "shortened": dropped > 0, "query_class": q.label,
                        "source": source_id(q), "shown": _shown(used, labels)}
                if setting == "symbols":
                    meta.update(_symbol_meta(labels))
                items.append(Item("k_curve", task.name, k_setting(setting, k), doc_id, prompt, labels, q.label,
                                  key=task.name, meta=meta, max_new_tokens=new_tokens or None, n_tokens=n))
    return items


def lf_selection(cfg: EvalConfig) -> dict[str, str]:
    """subtask id -> category."""
    if cfg.lf_subtasks:
        cat = {s: c for c, ids in LIST_FUNCTIONS_CATEGORIES.items() for s in ids}
        return {s: cat.get(s, "custom") for s in cfg.lf_subtasks}
    return {s: c for c, ids in LIST_FUNCTIONS_CATEGORIES.items() for s in ids}


def list_functions_items(cfg: EvalConfig, budget: Budget) -> list[Item]:
    from symtune.tasks.registry import load_algorithmic

    records = {r["name"]: r for r in load_algorithmic("list_functions")}
    selection = lf_selection(cfg)
    for s in selection:
        if s not in records:
            raise SymtuneError(f"unknown List Functions subtask '{s}'; choose c001-c250")
    items: list[Item] = []
    for sub, category in selection.items():
        rec = records[sub]
        examples = rec["examples"]
        head = rec["task_prefix"].strip() + "\n\n" if cfg.algorithmic_instruction else ""
        for j in range(min(len(examples), cfg.limit)):
            rng = random.Random(f"{cfg.seed}|list_functions|{sub}|{j}")
            others = [e for i, e in enumerate(examples) if i != j]
            shots = rng.sample(others, min(LF_SHOTS, len(others)))
            q = examples[j]

            def render(ps, q=q, head=head):
                return head + "".join(f"Input: {e['input']}\nOutput: {e['target']}\n\n" for e in ps) \
                    + f"Input: {q['input']}\nOutput:"

            while True:  # drop shots (keep one) if too long
                prompt = render(shots)
                ok, n = budget.fits(prompt, [], cfg.max_new_tokens)
                if ok:
                    break
                if len(shots) <= 1:
                    raise SymtuneError(f"List Functions {sub} example {j}: the prompt needs {n} tokens, over the "
                                       f"limit of {budget.max_length}; raise --max-length")
                shots = shots[:-1]
            items.append(Item("algorithmic", "list_functions", "list_functions", len(items), prompt, [],
                              q["target"].strip(), key=sub,
                              meta={"subtask": sub, "category": category, "example": j, "n_exemplars": len(shots),
                                    "shortened": len(shots) < LF_SHOTS},
                              max_new_tokens=cfg.max_new_tokens, n_tokens=n))
    return items


def simp_turing_items(cfg: EvalConfig, budget: Budget) -> list[Item]:
    from symtune.tasks.registry import load_algorithmic

    records = [r for r in load_algorithmic("simp_turing_concept") if r["n_instructions"] <= STC_MAX_INSTRUCTIONS]
    per_concept: Counter = Counter()
    items: list[Item] = []
    for r in records:
        prog = r["program"]
        if per_concept[prog] >= cfg.limit:
            continue
        per_concept[prog] += 1
        prompt = r["input"]  # predetermined shots, used as-is; ends with "Output:"
        ok, n = budget.fits(prompt, [], cfg.max_new_tokens)
        if not ok:
            raise SymtuneError(f"Simple Turing Concepts {prog}: a prompt needs {n} tokens, over the limit of "
                               f"{budget.max_length}; raise --max-length")
        items.append(Item("algorithmic", "simp_turing_concept", "simp_turing_concept", len(items), prompt, [],
                          r["target"].strip(), key=prog,
                          meta={"program": prog, "n_instructions": r["n_instructions"]},
                          max_new_tokens=cfg.max_new_tokens, n_tokens=n))
    return items


def resolve_tasks(cfg: EvalConfig) -> list:
    """Tasks of the icl/flipped suites: --task-file, --tasks, or the default held-out tasks."""
    from symtune.tasks.registry import default_eval_tasks, get_tasks, task_from_file

    if cfg.task_file:
        if cfg.tasks:
            raise SymtuneError("pass either --tasks or --task-file, not both")
        return [task_from_file(cfg.task_file, text_col=cfg.text_col, label_col=cfg.label_col,
                               text_pair_col=cfg.text_pair_col, split_col=cfg.split_col, seed=cfg.seed,
                               instruction=cfg.task_instruction)]
    if cfg.task_config:
        from symtune.tasks.registry import load_task_config

        pool = [t for t in load_task_config(cfg.task_config) if t.role == "eval"]
        if not cfg.tasks:
            return pool
        by_name = {t.name: t for t in pool}
        missing = [n for n in cfg.tasks if n not in by_name]
        if missing:
            raise SymtuneError(f"unknown task(s) {', '.join(missing)} in task config {cfg.task_config}; "
                               f"choose from {', '.join(by_name)}")
        return [by_name[n] for n in cfg.tasks]
    if cfg.tasks:
        tasks = get_tasks(cfg.tasks)
        seen, out = set(), []
        for t in tasks:
            if t.name not in seen:
                seen.add(t.name)
                out.append(t)
        return out
    return default_eval_tasks()


def unqueried_classes(task, cfg: EvalConfig) -> dict | None:
    """The classes of `task` that no query has, and why (None when every class is queried). Its accuracy
    then covers fewer classes than it shows as options; chance stays 1/#options, what a uniform guess over
    the options shown scores whatever the queries' classes."""
    queries, qids = query_pool(task, cfg)
    asked = {queries[i].label for i in qids}
    if len(asked) == task.num_classes:
        return None
    split = task.exemplar_split if cfg.split == "dev" else task.query_split
    present = {e.label for e in queries}
    missing = [c for c in range(task.num_classes) if c not in asked]
    return {"classes": [task.labels[c] for c in missing],
            "why": {task.labels[c]: (f"no example in split '{split}'" if c not in present
                                     else f"not among the {len(qids)} sampled queries (--limit)") for c in missing},
            "queried": len(asked), "of": task.num_classes,
            "chance": f"1/{task.num_classes}: a uniform guess over the {task.num_classes} options shown"}


def unqueried_warning(task_name: str, info: dict) -> str:
    """One stderr line for unqueried_classes (the report shows the same)."""
    why = "; ".join(f"'{c}': {w}" for c, w in info["why"].items())
    return (f"task {task_name}: class(es) never queried ({why}), so its accuracy covers {info['queried']} of "
            f"{info['of']} classes (chance stays {info['chance']})")


_WARNED: set = set()


def _warn_once(message: str, cfg: EvalConfig) -> None:
    """One stderr line per evaluation: items are built twice (the up-front check, then the run), and
    data-parallel children rebuild them after their parent has said it."""
    import os

    from symtune.runtime import CHILD_ENV

    import dataclasses

    key = (message, repr(dataclasses.replace(cfg, device="", dtype="")))  # the check sees them unresolved
    if key in _WARNED or os.environ.get(CHILD_ENV) == "1" or int(os.environ.get("RANK", "0") or 0) != 0:
        return
    _WARNED.add(key)
    print(f"symtune: warning: {message}", file=sys.stderr)


def serve(items: list[Item], budget: Budget) -> list[Item]:
    """Items as the model is served: through the chat template when the budget has one (in place)."""
    if budget.chat:
        for it in items:
            it.prompt = budget.chat.prompt(it.prompt)
    return items


def build_items(cfg: EvalConfig, tokenizer, budget: Budget) -> tuple[list[Item], dict]:
    """Every item of the configured suite(s) plus notes (skipped tasks, protocols)."""
    suites = ["icl", "flipped", "algorithmic"] if cfg.suite == "all" else [cfg.suite]
    suites += [s for s in cfg.extra_suites if s not in suites]
    notes: dict = {}
    if cfg.split == "dev":
        if suites == ["algorithmic"]:
            raise SymtuneError("the algorithmic suite has no dev split (its queries are fixed); use --split test")
        if "algorithmic" in suites:
            suites.remove("algorithmic")
            notes["dev_skipped"] = ["algorithmic (no dev split: its queries are fixed)"]
        notes["split"] = {"name": "dev", "queries": "exemplar split, no test query, never among its own exemplars",
                          "limit": cfg.dev_limit, "settings": list(cfg.dev_settings),
                          "seed_stream": f"{cfg.seed}|dev|<suite>|<task>|<doc_id>"}
    else:
        notes["split"] = {"name": "test", "queries": "query split", "limit": cfg.limit}
    notes["suites"] = suites
    items: list[Item] = []
    tasks = resolve_tasks(cfg) if any(s != "algorithmic" for s in suites) else []
    if "icl" in suites:
        for t in tasks:
            items += icl_items(t, cfg, tokenizer, budget)
    if "flipped" in suites:
        binary = [t for t in tasks if t.num_classes == 2]
        skipped = [t.name for t in tasks if t.num_classes != 2]
        if not binary and cfg.suite == "flipped":
            raise SymtuneError("the flipped suite needs binary tasks; none of the selected tasks has two classes")
        notes["flipped_protocol"] = flip_protocol(cfg)
        notes["flipped_skipped_non_binary"] = skipped
        for t in binary:
            items += flipped_items(t, cfg, tokenizer, budget)
    if "icl" in suites or "flipped" in suites:
        unq = {t.name: info for t in tasks if (info := unqueried_classes(t, cfg))}
        if unq:
            notes["unqueried_classes"] = unq
            for name, info in unq.items():  # a --limit below the class count is the user's choice: note only
                if any(w.startswith("no example") for w in info["why"].values()):
                    _warn_once(unqueried_warning(name, info), cfg)
    if cfg.permutation_control:
        notes["perm_control"] = ("symbol-setting queries rescored with the class->symbol assignment permuted "
                                 "(binary: swapped; else class c shows class c+1's symbol); suite perm_control")
    for name, make in (("flip_curve", flip_curve_items), ("k_curve", k_curve_items)):
        if name not in suites:
            continue
        chosen = [t for t in tasks if t.num_classes == 2] if name == "flip_curve" else tasks
        if not chosen:
            raise SymtuneError("the flip_curve suite needs binary tasks; none of the selected tasks has two classes")
        if name == "flip_curve":
            notes["flip_curve"] = {"proportions": sorted(cfg.flip_curve_proportions), "gold": "unchanged",
                                   "skipped_non_binary": [t.name for t in tasks if t.num_classes != 2]}
        else:
            notes["k_curve"] = {"k": sorted(set(cfg.k_curve)), "settings": list(K_CURVE_SETTINGS)}
        for t in chosen:
            items += make(t, cfg, tokenizer, budget)
    if "algorithmic" in suites:
        items += list_functions_items(cfg, budget)
        items += simp_turing_items(cfg, budget)
        notes["list_functions_categories"] = {c: ids for c, ids in LIST_FUNCTIONS_CATEGORIES.items()} \
            if not cfg.lf_subtasks else {"custom": list(cfg.lf_subtasks)}
        notes["list_functions_selection"] = "hand-picked from BIG-bench descriptions (not the paper's IDs)"
    if budget.chat:
        notes["chat_template"] = {"user_turn": "the whole few-shot prompt",
                                  "answer": "the label after the delimiter, as in the exemplars",
                                  "head": budget.chat.head, "tail": budget.chat.tail}
    return serve(items, budget), notes
