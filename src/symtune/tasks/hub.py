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
    state: dict = {}

    def dataset():
        if "ds" not in state:
            import datasets

            try:
                state["ds"] = datasets.load_dataset(dataset_id, config, **load_kwargs)
            except Exception as e:  # network, missing config, bad path: all one-line errors
                msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
                raise SymtuneError(f"cannot load dataset '{dataset_id}'"
                                   f"{f' (config {config})' if config else ''}: {msg}") from None
        return state["ds"]

    def class_names_of(split: str) -> list[str] | None:
        ds = dataset()
        if split not in ds:
            raise SymtuneError(f"dataset '{dataset_id}' has no split '{split}'; splits: {', '.join(ds)}")
        feat = ds[split].features.get(label_col)
        return list(feat.names) if hasattr(feat, "names") else None

    labels: list[str]
    if label_names is not None:
        labels = [str(x) for x in label_names]
    else:
        names = class_names_of(exemplar_split)
        if names is None:
            values = _label_order(dataset()[exemplar_split][label_col])
            values = [v for v in values if v not in (-1, None, "")]
            names = [str(v) for v in values]
            if label_values is None:
                label_values = values
        labels = names
    if len(labels) < 2:
        raise SymtuneError(f"dataset '{dataset_id}': label column '{label_col}' has fewer than two classes")

    def load(split: str) -> list[Example]:
        ds = dataset()
        if split not in ds:
            raise SymtuneError(f"dataset '{dataset_id}' has no split '{split}'; splits: {', '.join(ds)}")
        part = ds[split]
        cols = list(part.column_names)
        wanted = [c for c in ([text_col] if isinstance(text_col, str) else list(text_col))]
        if text_pair_col is not None:
            wanted += [text_pair_col] if isinstance(text_pair_col, str) else list(text_pair_col)
        for c in wanted + [label_col]:
            if c not in cols:
                raise SymtuneError(f"dataset '{dataset_id}' split '{split}': column '{c}' not found; "
                                   f"available columns: {', '.join(cols)}")
        feat = part.features.get(label_col)
        feat_names = list(feat.names) if hasattr(feat, "names") else None
        out: list[Example] = []
        for row in part:
            v = row[label_col]
            y: int | None = None
            if label_values is not None:
                vals = list(label_values)
                if v in vals:
                    y = vals.index(v)
                elif feat_names is not None and isinstance(v, int) and 0 <= v < len(feat_names) \
                        and feat_names[v] in vals:
                    y = vals.index(feat_names[v])
                elif str(v) in [str(x) for x in vals]:
                    y = [str(x) for x in vals].index(str(v))
            elif isinstance(v, bool):
                y = int(v)
            elif isinstance(v, int):
                y = v if 0 <= v < len(labels) else None
            elif isinstance(v, str):
                y = labels.index(v) if v in labels else None
            if y is None:
                continue
            out.append(Example(_join(row, text_col), y, _join(row, text_pair_col)))
        if max_examples is not None and len(out) > max_examples:
            rng = random.Random(f"{seed}-{task_name}-{split}")
            keep = sorted(rng.sample(range(len(out)), max_examples))
            out = [out[i] for i in keep]
        return out

    src = dataset_id + (f" ({config})" if config else "")
    return Task(name=task_name, role=role, task_type=task_type, labels=labels,
                instruction=instruction or f"Classify the input as one of: {', '.join(labels)}.",
                exemplar_split=exemplar_split, query_split=query_split, source=src, licence=licence,
                pair=text_pair_col is not None, description=description, remote=True, loader=load)
