"""Whether tasks share data: the held-out guard compares texts, not names.

A task is known by its examples' texts (whitespace and case folded), so a held-out task renamed, given
another role in a task config, or copied into a file is still the held-out task. Two tasks overlap when
5 of one's texts (or a tenth of them, for a smaller task) are the other's: enough to leave chance
coincidences of short texts ("yes", "play music") alone. Hub tasks (`remote`) are compared by name only,
so that checking a config never downloads a dataset.
"""

from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.tasks.base import Task


def texts(task: Task, splits) -> frozenset:
    out = set()
    for split in dict.fromkeys(splits):
        for ex in task.examples(split):
            key = " ".join(ex.text.split()).casefold() + "\0" + " ".join((ex.text_pair or "").split()).casefold()
            out.add(hashlib.sha1(key.encode("utf-8")).digest())
    return frozenset(out)


def significant(shared: int, total: int) -> bool:
    return shared > 0 and shared >= min(5, max(1, math.ceil(0.1 * total)))


@functools.lru_cache(maxsize=1)
def _held_out() -> tuple:
    from symtune.tasks.bundled import SPLITS, list_tasks

    return tuple((t.name, texts(t, SPLITS)) for t in list_tasks("eval"))


def check_not_held_out(task: Task) -> None:
    """Refuse a tuning task that is a held-out evaluation task, by name or by its data."""
    why = None
    if _file_of(task) is None and any(task.name == name for name, _ in _held_out()):  # a file's name is its stem
        why = "is a held-out evaluation task"
    elif not task.remote:
        mine = texts(task, [task.exemplar_split])
        for name, held in _held_out():
            n = len(mine & held)
            if significant(n, len(mine)):
                why = f"holds {n} of the {len(mine)} texts it tunes on from the held-out evaluation task {name}"
                break
    if why:
        raise SymtuneError(f"task {task.name} {why}; tuning on it would leak into evaluation. "
                           "Pick tuning tasks (`symtune tasks --role tune`)")


def _file_of(task: Task) -> Path | None:
    if task.remote or not task.source or not Path(task.source).is_file():
        return None
    return Path(task.source).resolve()


def tuning_overlap(tune: list[Task], evals: list[Task], split: str = "test") -> list[str]:
    """Names of the evaluation tasks a run also tunes on: the same task (by name or by data), or, for a
    user's file split into tuning and evaluation rows, queries that are among the tuning rows."""
    found = []
    tune_texts = {id(t): texts(t, [t.exemplar_split]) for t in tune if not t.remote}
    for e in evals:
        queried = e.query_split if split == "test" else e.exemplar_split
        e_file = _file_of(e)
        e_texts: dict = {}  # splits -> texts, each read once per evaluation task

        def of(splits, e=e, e_texts=e_texts):
            if splits not in e_texts:
                e_texts[splits] = texts(e, splits)
            return e_texts[splits]

        for t in tune:
            if e_file is not None and _file_of(t) == e_file:
                # the seeded split keeps its validation rows out of tuning: compare the queries
                mine = tune_texts[id(t)]
                hit = significant(len(mine & of((queried,))), len(mine))
            elif t.name == e.name:
                hit = True
            elif t.remote or e.remote:
                hit = False
            else:
                mine = tune_texts[id(t)]
                hit = significant(len(mine & of((e.exemplar_split, e.query_split))), len(mine))
            if hit:
                found.append(e.name)
                break
    return found
