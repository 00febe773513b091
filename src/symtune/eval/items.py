"""What an evaluation scores: one prompt with its options (lm-eval's request: context + continuations).

    from symtune.eval.items import Item, serve

The token-limit rule that fits each prompt lives in symtune.prompting.fit (Budget, fit_prompt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from symtune.prompting.fit import Budget


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


def serve(items: list[Item], budget: Budget) -> list[Item]:
    """Items as the model is served: through the chat template when the budget has one (in place)."""
    if budget.chat:
        for it in items:
            it.prompt = budget.chat.prompt(it.prompt)
    return items
