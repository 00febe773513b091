"""The one length-fitting routine: drop exemplars by the one drop rule until a prompt fits its limit.

    from symtune.prompting.fit import Budget, fewest_drops, fit_prompt
    drops, kept, (prompt, n) = fewest_drops(classes, fits)        # any prompt, any measure
    prompt, dropped, n_tokens, used = fit_prompt(task, doc_id, pairs, render, options, budget, new_tokens)

`fewest_drops` takes the exemplars' classes in prompt order and a `fits(kept positions)` callback;
it returns the fewest drops, taken in `templates.drop_order` (the class with the most left first, its
last-shown exemplar, never the last of a class), that fit. Tuning rows (data/build.py) measure
prompt + completion with the training tokenizer; evaluation items measure prompt + longest option with
`Budget` (as lm-eval encodes them); List Functions gives every shot one class, so it drops shots from
the end and keeps one.
"""

from __future__ import annotations

from typing import Any, Callable

from symtune.errors import SymtuneError
from symtune.prompting.templates import drop_order


class NoFit(Exception):
    """Even after every drop the rule allows the prompt is too long; `result` is what `fits` said then."""

    def __init__(self, result: Any):
        super().__init__("prompt does not fit")
        self.result = result


def fewest_drops(classes: list[int], fits: Callable[[list[int]], tuple[bool, Any]],
                 start: int = 0) -> tuple[int, list[int], Any]:
    """(drops, kept positions, fits' result) for the fewest drops >= `start` after which `fits` says yes.

    `start` lets a caller skip drops a cheap estimate already knows are needed. Every drop shortens the
    prompt, so after `start` one check of the most drops decides whether any fits (else NoFit), and the
    fewest is found by bisection: O(log n) renders instead of one per drop."""
    order = drop_order(classes)
    start = min(start, len(order))

    def kept(d: int) -> list[int]:
        gone = set(order[:d])
        return [i for i in range(len(classes)) if i not in gone]

    first = kept(start)
    ok, res = fits(first)
    if ok:
        return start, first, res
    ok, res = fits(kept(len(order)))
    if not ok:
        raise NoFit(res)
    lo, hi, best = start, len(order), res  # lo drops do not fit, hi drops do
    while hi - lo > 1:
        mid = (lo + hi) // 2
        ok, res = fits(kept(mid))
        if ok:
            hi, best = mid, res
        else:
            lo = mid
    return hi, kept(hi), best


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


def gen_budget(budget: Budget, options: list[str]) -> int:
    """Greedy budget for classification: the longest option's tokens + 2 (enough to see it end)."""
    longest = max(budget._opt_len(o) for o in options)
    return longest + 2


def fit_prompt(task_name: str, doc_id: int, pairs: list, render: Callable[[list], str], options: list[str],
               budget: Budget, new_tokens: int) -> tuple[str, int, int, list]:
    """An evaluation prompt within the budget: (prompt, exemplars dropped, token count, the pairs rendered).
    `pairs` are (example, shown label) in prompt order; the drop rule reads each example's class."""
    pairs = list(pairs)

    def fits(kept: list[int]):
        used = [pairs[i] for i in kept]
        prompt = render(used)
        ok, n = budget.fits(prompt, options, new_tokens)
        return ok, (prompt, n, used)

    try:
        dropped, _, (prompt, n, used) = fewest_drops([ex.label for ex, _ in pairs], fits)
    except NoFit as e:
        raise SymtuneError(
            f"task {task_name}, query {doc_id}: the prompt needs {e.result[1]} tokens with one exemplar per class, "
            f"over the limit of {budget.max_length}; raise --max-length or use shorter inputs") from None
    return prompt, dropped, n, used


def check_fits(task, budget: Budget) -> None:
    """Fail before drawing anything when one exemplar per class cannot fit: every exemplar takes at
    least one token, so a task with more classes than the token limit never fits."""
    if task.num_classes >= budget.max_length:
        raise SymtuneError(
            f"task {task.name} has {task.num_classes} classes: a prompt with one exemplar per class needs at "
            f"least {task.num_classes} tokens, over the limit of {budget.max_length}; raise --max-length or "
            "use a task with fewer classes")


