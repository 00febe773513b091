"""Which items one evaluation scores: its tasks, the suites its config names, their notes.

    from symtune.eval.build import build_items
    items, notes = build_items(cfg, tokenizer, budget)
"""

from __future__ import annotations

import sys

from symtune.errors import SymtuneError
from symtune.eval.algorithmic_suites import LIST_FUNCTIONS_CATEGORIES, list_functions_items, simp_turing_items
from symtune.eval.config import EvalConfig
from symtune.eval.items import Item, serve
from symtune.prompting.fit import Budget
from symtune.prompting.sampling import query_pool
from symtune.eval.suites import (K_CURVE_SETTINGS, flip_curve_items, flip_protocol, flipped_items, icl_items,
                                 k_curve_items)


def resolve_tasks(cfg: EvalConfig) -> list:
    """Tasks of the icl/flipped suites (tasks/select.py's rule): --task-file, --tasks, or the defaults."""
    from symtune.tasks.select import select_tasks

    if cfg.task_file:
        if cfg.tasks:
            raise SymtuneError("pass either --tasks or --task-file, not both")
        return select_tasks("eval", files=[(cfg.task_file, dict(
            text_col=cfg.text_col, label_col=cfg.label_col, text_pair_col=cfg.text_pair_col,
            split_col=cfg.split_col, seed=cfg.seed, instruction=cfg.task_instruction))])
    return select_tasks("eval", names=cfg.tasks, task_config=cfg.task_config)


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
