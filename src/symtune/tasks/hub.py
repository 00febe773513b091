"""Tasks from Hugging Face datasets through `datasets.load_dataset` (online for users; tested on local files)."""

from __future__ import annotations

import random
from typing import Any, Sequence

from symtune.errors import SymtuneError
from symtune.tasks.base import Example, Task
from symtune.tasks.files import _label_order


def _join(row: dict, cols: str | Sequence[str] | None) -> str | None:
    if cols is None:
        return None
    if isinstance(cols, str):
        return str(row[cols])
    return "\n".join(str(row[c]) for c in cols)


def _cols(cols: str | Sequence[str] | None) -> list[str]:
    return [] if cols is None else [cols] if isinstance(cols, str) else list(cols)


def _label_index(v, labels: list[str], label_values: list | None, feat_names: list[str] | None) -> int | None:
    """Class id of one raw label value, or None (the row is dropped): `label_values` in class order when
    given (raw values, ClassLabel names, or their strings), else a bool, an int id or a label name."""
    if label_values is not None:
        if v in label_values:
            return label_values.index(v)
        if feat_names is not None and isinstance(v, int) and 0 <= v < len(feat_names) and feat_names[v] in label_values:
            return label_values.index(feat_names[v])
        as_str = [str(x) for x in label_values]
        return as_str.index(str(v)) if str(v) in as_str else None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v if 0 <= v < len(labels) else None
    if isinstance(v, str):
        return labels.index(v) if v in labels else None
    return None


class _HubSource:
    """One `datasets.load_dataset` call, made on first use, and the splits read from it."""

    def __init__(self, dataset_id: str, config: str | None, load_kwargs: dict):
        self.dataset_id, self.config, self.load_kwargs = dataset_id, config, load_kwargs
        self._ds = None

    def split(self, split: str):
        if self._ds is None:
            import datasets

            try:
                self._ds = datasets.load_dataset(self.dataset_id, self.config, **self.load_kwargs)
            except Exception as e:  # network, missing config, bad path: all one-line errors
                msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
                raise SymtuneError(f"cannot load dataset '{self.dataset_id}'"
                                   f"{f' (config {self.config})' if self.config else ''}: {msg}") from None
        if split not in self._ds:
            raise SymtuneError(f"dataset '{self.dataset_id}' has no split '{split}'; splits: {', '.join(self._ds)}")
        return self._ds[split]

    def class_names(self, split: str, label_col: str) -> list[str] | None:
        feat = self.split(split).features.get(label_col)
        return list(feat.names) if hasattr(feat, "names") else None


def task_from_hf(dataset_id: str, config: str | None = None, text_col: str | Sequence[str] = "text",
                 label_col: str = "label", text_pair_col: str | Sequence[str] | None = None,
                 label_names: Sequence[str] | None = None, exemplar_split: str = "train",
                 query_split: str = "validation", name: str | None = None, role: str = "eval",
                 instruction: str | None = None, task_type: str = "classification",
                 label_values: Sequence[Any] | None = None, max_examples: int | None = None,
                 seed: int = 0, licence: str = "", description: str = "", **load_kwargs) -> Task:
    """A Task backed by `datasets.load_dataset(dataset_id, config, **load_kwargs)`.

    Labels: `label_names` (display names, class order) if given, else the ClassLabel names of
    `label_col`. `label_values` optionally lists the raw values (or ClassLabel names) in class order,
    for datasets whose values are not 0..n-1 (rows with other values, e.g. -1, are dropped).
    `text_col`/`text_pair_col` may be lists of columns, joined with newlines.
    With `label_names` given, nothing is loaded until examples are requested.
    """
    task_name = name or (dataset_id.rstrip("/").split("/")[-1] + (f"_{config}" if config else ""))
    hub = _HubSource(dataset_id, config, load_kwargs)
    values = None if label_values is None else list(label_values)
    if label_names is not None:
        labels = [str(x) for x in label_names]
    else:
        labels = hub.class_names(exemplar_split, label_col)
        if labels is None:
            found = [v for v in _label_order(hub.split(exemplar_split)[label_col]) if v not in (-1, None, "")]
            labels = [str(v) for v in found]
            values = found if values is None else values
    if len(labels) < 2:
        raise SymtuneError(f"dataset '{dataset_id}': label column '{label_col}' has fewer than two classes")

    def load(split: str) -> list[Example]:
        part = hub.split(split)
        cols = list(part.column_names)
        for c in _cols(text_col) + _cols(text_pair_col) + [label_col]:
            if c not in cols:
                raise SymtuneError(f"dataset '{dataset_id}' split '{split}': column '{c}' not found; "
                                   f"available columns: {', '.join(cols)}")
        feat_names = hub.class_names(split, label_col)
        out: list[Example] = []
        for row in part:
            y = _label_index(row[label_col], labels, values, feat_names)
            if y is not None:
                out.append(Example(_join(row, text_col), y, _join(row, text_pair_col)))
        if max_examples is not None and len(out) > max_examples:
            rng = random.Random(f"{seed}-{task_name}-{split}")
            out = [out[i] for i in sorted(rng.sample(range(len(out)), max_examples))]
        return out

    src = dataset_id + (f" ({config})" if config else "")
    return Task(name=task_name, role=role, task_type=task_type, labels=labels,
                instruction=instruction or f"Classify the input as one of: {', '.join(labels)}.",
                exemplar_split=exemplar_split, query_split=query_split, source=src, licence=licence,
                pair=text_pair_col is not None, description=description, remote=True, loader=load)
