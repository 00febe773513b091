"""What an evaluation scores and the one rule that fits it in the token limit.

    from symtune.eval.items import Budget, Item, fit_prompt
    prompt, dropped, n_tokens, used = fit_prompt(task, doc_id, pairs, render, options, budget, new_tokens)

An Item is one prompt with its options (lm-eval's request: context + continuations). Budget measures
prompt + longest option as the model will be served; fit_prompt drops exemplars (the class with the
most left first, never the last of a class) until the prompt fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from symtune.errors import SymtuneError
from symtune.prompts import drop_order


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


def gen_budget(budget: Budget, options: list[str]) -> int:
    """Greedy budget for classification: the longest option's tokens + 2 (enough to see it end)."""
    longest = max(budget._opt_len(o) for o in options)
    return longest + 2


def fit_prompt(task_name: str, doc_id: int, pairs: list, render: Callable[[list], str], options: list[str],
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


def check_fits(task, budget: Budget) -> None:
    """Fail before drawing anything when one exemplar per class cannot fit: every exemplar takes at
    least one token, so a task with more classes than the token limit never fits."""
    if task.num_classes >= budget.max_length:
        raise SymtuneError(
            f"task {task.name} has {task.num_classes} classes: a prompt with one exemplar per class needs at "
            f"least {task.num_classes} tokens, over the limit of {budget.max_length}; raise --max-length or "
            "use a task with fewer classes")


def serve(items: list[Item], budget: Budget) -> list[Item]:
    """Items as the model is served: through the chat template when the budget has one (in place)."""
    if budget.chat:
        for it in items:
            it.prompt = budget.chat.prompt(it.prompt)
    return items
