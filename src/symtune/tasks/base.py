"""The task schema shared by every source (bundled files, Hugging Face datasets, user files).

A Task is a classification task: examples with one text (or a text pair) and a label index
into `labels` (the natural-language label names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # index into Task.labels
    text_pair: str | None = None


@dataclass
class Task:
    name: str
    role: str  # "tune" | "eval"
    task_type: str  # sentiment, nli, topic, intent, fact_verification, paraphrase, ...
    labels: list[str]  # natural-language label names, index = class id
    instruction: str  # used only in the instruction settings (never in symbol tuning)
    exemplar_split: str = "train"  # split that gives in-context exemplars (and tuning data)
    query_split: str = "validation"  # split that gives evaluation queries
    source: str = ""  # where the data comes from (package, Hub id, file)
    licence: str = ""
    pair: bool = False  # True when examples carry text_pair
    description: str = ""
    # (lo, hi): every prompt of this task (symbol or natural) shows a random lo..hi of its classes, so a
    # task with many classes gives many small concept sets (the `sources` task, multiemo_lang_sub)
    classes_per_prompt: tuple[int, int] | None = None
    remote: bool = False  # examples come from the Hub (loading them may download): compared by name only
    loader: Callable[[str], list[Example]] | None = field(default=None, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def examples(self, split: str) -> list[Example]:
        """All examples of a split (cached). Order is fixed, so seeded sampling is reproducible."""
        if split not in self._cache:
            if self.loader is None:
                raise ValueError(f"task {self.name} has no loader")
            self._cache[split] = self.loader(split)
        return self._cache[split]

    def by_class(self, split: str) -> list[list[Example]]:
        groups: list[list[Example]] = [[] for _ in self.labels]
        for ex in self.examples(split):
            groups[ex.label].append(ex)
        return groups
