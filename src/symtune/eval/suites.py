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
a blank line (symtune.prompting.templates.render). The reproduction notebook instead repeats it in every
exemplar (appendix §3); symtune does not.
"""

from __future__ import annotations

from collections import Counter

from symtune.errors import SymtuneError
from symtune.eval.config import ICL_SETTINGS, EvalConfig
from symtune.eval.items import Item
from symtune.prompting.fit import Budget, check_fits, fit_prompt, gen_budget
from symtune.prompting.sampling import check_classes, eval_symbol_pool, permuted, queries, shown, source_id, symbol_meta, templates_for


SYMBOL_SETTINGS = ("instr+symbols", "symbols")


K_CURVE_SETTINGS = ("labels", "symbols")


FLIPPED_SETTING = "flipped"


def n_flipped(p: float, n: int) -> int:
    """How many of n exemplar labels a flip proportion p flips, in every suite: p * n rounded half up
    (Python's round() rounds halves to even: at p = 0.75 with 6 exemplars it flips 4, this 5)."""
    return int(p * n + 0.5)


def _item(suite: str, task, setting: str, qu, pairs: list, labels: list[str], instruction, gold, cfg: EvalConfig,
          budget: Budget, head: dict | None = None, mid=None, tail: dict | None = None) -> Item:
    """One classification prompt for a query: fitted to the token limit (fit_prompt), with the meta every
    suite records. A suite's own keys go in head / mid / tail (mid may be a function of the exemplars
    the fitted prompt kept), so each suite's key order in the samples files stays as it was."""
    from symtune.prompting.templates import render

    new_tokens = gen_budget(budget, labels) if cfg.scoring == "generate" else 0
    prompt, dropped, n, used = fit_prompt(task.name, qu.doc_id, pairs,
                                          lambda ps: render(qu.fmt, ps, qu.example, instruction).prompt,
                                          labels, budget, new_tokens)
    mid = mid(used) if callable(mid) else mid
    meta = {"template": qu.fmt.id, "labels": labels, "instruction": instruction is not None, **(head or {}),
            "n_exemplars": len(used), "shortened": dropped > 0, "query_class": qu.example.label, **(mid or {}),
            "source": source_id(qu.example), "shown": shown(used, labels), **(tail or {})}
    return Item(suite, task.name, setting, qu.doc_id, prompt, labels, gold, key=task.name, meta=meta,
                max_new_tokens=new_tokens or None, n_tokens=n)


def icl_items(task, cfg: EvalConfig, tokenizer, budget: Budget, settings=None) -> list[Item]:
    """The ICL suite's items for one task: every sampled query in every requested setting (plus the
    perm_control items of the symbol settings when `cfg.permutation_control`)."""
    settings = list(settings or (cfg.dev_settings if cfg.split == "dev" else cfg.settings))
    for s in settings:
        if s not in ICL_SETTINGS:
            raise SymtuneError(f"unknown setting '{s}'; choose from {', '.join(ICL_SETTINGS)}")
    groups = check_classes(task, cfg.k)
    check_fits(task, budget)
    pool = eval_symbol_pool()
    items = []
    for qu in queries(task, cfg, "icl", groups, cfg.k, templates_for(cfg)):
        symbols = pool.sample(task.num_classes, qu.rng, tokenizer=tokenizer)  # drawn for every setting set
        variants = [("icl", s, None) for s in settings]
        if cfg.permutation_control:
            variants += [("perm_control", s, permuted(symbols)) for s in settings if s in SYMBOL_SETTINGS]
        for suite, setting, perm in variants:
            labels = list(task.labels) if setting.endswith("labels") else (perm[0] if perm else symbols)
            instruction = task.instruction if setting.startswith("instr+") else None
            tail = {} if setting.endswith("labels") else symbol_meta(labels)
            if perm:
                tail["permutation"] = perm[1]
            items.append(_item(suite, task, setting, qu, [(ex, labels[ex.label]) for ex in qu.exemplars], labels,
                               instruction, qu.example.label, cfg, budget, tail=tail))
    return items


def flip_protocol(cfg: EvalConfig) -> str:
    if cfg.flip_proportion is None:
        return "paper: all exemplar labels and the query's gold flipped"
    return f"proportion: {cfg.flip_proportion:g} of exemplar labels flipped, gold unchanged"


def flipped_items(task, cfg: EvalConfig, tokenizer, budget: Budget) -> list[Item]:
    if task.num_classes != 2:
        raise SymtuneError(f"task {task.name} has {task.num_classes} classes; flipped labels need a binary task")
    p = cfg.flip_proportion
    if p is not None and not 0.0 <= p <= 1.0:
        raise SymtuneError(f"--flip-proportion must be between 0 and 1, got {p}")
    groups = check_classes(task, cfg.k)
    labels = list(task.labels)
    instruction = task.instruction if cfg.flip_instruction else None
    items = []
    for qu in queries(task, cfg, "flipped", groups, cfg.k, templates_for(cfg)):
        n = len(qu.exemplars)
        if p is None:
            flip, gold = set(range(n)), 1 - qu.example.label
        else:
            flip, gold = set(qu.rng.sample(range(n), n_flipped(p, n))), qu.example.label
        pairs = [(ex, labels[1 - ex.label] if i in flip else labels[ex.label]) for i, ex in enumerate(qu.exemplars)]
        items.append(_item("flipped", task, FLIPPED_SETTING, qu, pairs, labels, instruction, gold, cfg, budget,
                           mid={"n_flipped": len(flip), "protocol": flip_protocol(cfg)}))
    return items


def flip_setting(p: float) -> str:
    return f"p{p:.2f}"


def flip_curve_items(task, cfg: EvalConfig, tokenizer, budget: Budget) -> list[Item]:
    """Binary task, natural labels: per query one prompt per flip proportion, gold unchanged.

    Template and exemplars come from the flipped suite's stream, so the 100% prompt is the flipped
    suite's paper-protocol prompt (there the gold is flipped: its accuracy is 1 - this one's). The
    flipped exemplars are nested: one shuffled order per query, the first n_flipped(p, n) are flipped.
    """
    if task.num_classes != 2:
        raise SymtuneError(f"task {task.name} has {task.num_classes} classes; the flip curve needs a binary task")
    props = list(cfg.flip_curve_proportions)
    if not props or any(not 0.0 <= p <= 1.0 for p in props) or len(set(map(flip_setting, props))) != len(props):
        raise SymtuneError(f"--flip-curve-proportions must be distinct numbers between 0 and 1, got {props}")
    groups = check_classes(task, cfg.k)
    labels = list(task.labels)
    instruction = task.instruction if cfg.flip_instruction else None
    items = []
    for qu in queries(task, cfg, "flipped", groups, cfg.k, templates_for(cfg)):
        order = list(range(len(qu.exemplars)))
        qu.rng.shuffle(order)
        for p in sorted(props):
            flip = set(order[:n_flipped(p, len(qu.exemplars))])
            pairs = [(ex, labels[1 - ex.label] if i in flip else labels[ex.label])
                     for i, ex in enumerate(qu.exemplars)]

            def mid(used, p=p):  # what the fitted prompt shows flipped (a dropped exemplar shows nothing)
                return {"proportion": p, "n_flipped": sum(lab != labels[ex.label] for ex, lab in used)}

            items.append(_item("flip_curve", task, flip_setting(p), qu, pairs, labels, instruction,
                               qu.example.label, cfg, budget, mid=mid))
    return items


def k_setting(setting: str, k: int) -> str:
    return f"{setting}@k{k}"


def k_curve_items(task, cfg: EvalConfig, tokenizer, budget: Budget) -> list[Item]:
    """`labels` and `symbols` at each k of cfg.k_curve exemplars per class, for the split's queries.

    Per query one draw of max(k) exemplars per class (shuffled) and one set of symbols; the prompt at
    k keeps, per class, the first k of them in the drawn order, so the curve's points are nested.
    """
    ks = sorted(set(cfg.k_curve))
    if not ks or ks[0] < 1:
        raise SymtuneError(f"--k-curve must list exemplar counts of at least 1, got {cfg.k_curve}")
    groups = check_classes(task, ks[-1])
    check_fits(task, budget)
    pool = eval_symbol_pool()
    items = []
    for qu in queries(task, cfg, "k_curve", groups, ks[-1], templates_for(cfg)):
        symbols = pool.sample(task.num_classes, qu.rng, tokenizer=tokenizer)
        for k in ks:
            seen: Counter = Counter()
            exemplars = []
            for ex in qu.exemplars:
                if seen[ex.label] < k:
                    seen[ex.label] += 1
                    exemplars.append(ex)
            for setting in K_CURVE_SETTINGS:
                labels = list(task.labels) if setting == "labels" else symbols
                items.append(_item("k_curve", task, k_setting(setting, k), qu,
                                   [(ex, labels[ex.label]) for ex in exemplars], labels, None, qu.example.label,
                                   cfg, budget, head={"k": k},
                                   tail=symbol_meta(labels) if setting == "symbols" else {}))
    return items
