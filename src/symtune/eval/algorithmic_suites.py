"""The algorithmic suites: BIG-bench List Functions and Simple Turing Concepts (open-ended, greedy
generation + exact match; fixed queries, so no dev split).

    from symtune.eval.algorithmic_suites import list_functions_items, simp_turing_items
"""

from __future__ import annotations

import random
from collections import Counter

from symtune.errors import SymtuneError
from symtune.eval.config import EvalConfig
from symtune.eval.items import Item
from symtune.prompting import templates
from symtune.prompting.fit import Budget, NoFit, fewest_drops
from symtune.tasks.base import Example


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
LF_FORMAT = templates.TEMPLATES[0]


STC_MAX_INSTRUCTIONS = 3


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
        head = rec["task_prefix"] if cfg.algorithmic_instruction else None
        for j in range(min(len(examples), cfg.limit)):
            rng = random.Random(f"{cfg.seed}|list_functions|{sub}|{j}")
            others = [e for i, e in enumerate(examples) if i != j]
            shots = rng.sample(others, min(LF_SHOTS, len(others)))
            q = examples[j]

            def render(ps, q=q, head=head):  # BIG-bench's own format is template 0 ("Input: " / "Output:")
                return templates.render(LF_FORMAT, [(Example(e["input"], 0), e["target"]) for e in ps],
                                        Example(q["input"], 0), head).prompt

            def fits(kept, shots=shots, render=render):
                prompt = render([shots[i] for i in kept])
                ok, n = budget.fits(prompt, [], cfg.max_new_tokens)
                return ok, (prompt, n, len(kept))

            try:  # one class for every shot: drops take the last shots first and keep one
                _, _, (prompt, n, n_shots) = fewest_drops([0] * len(shots), fits)
            except NoFit as e:
                raise SymtuneError(f"List Functions {sub} example {j}: the prompt needs {e.result[1]} tokens, over "
                                   f"the limit of {budget.max_length}; raise --max-length") from None
            items.append(Item("algorithmic", "list_functions", "list_functions", len(items), prompt, [],
                              q["target"].strip(), key=sub,
                              meta={"subtask": sub, "category": category, "example": j, "n_exemplars": n_shots,
                                    "shortened": n_shots < LF_SHOTS},
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
