"""Tasks from a user's CSV/TSV, JSONL or Parquet file (seeded stratified split unless a split column is given)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import sys
from pathlib import Path
from typing import Sequence

from symtune.errors import SymtuneError
from symtune.tasks.base import Example, Task
from symtune.tasks.labels import canonical_label, class_order, normalise_labels

# csv's default field limit (128 KiB) refuses a long text; the whole file is in memory already anyway
_CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

_SPLIT_ALIASES = {"dev": "validation", "valid": "validation", "val": "validation", "validation": "validation",
                  "train": "train", "training": "train", "test": "test"}

def _read_table(path: Path) -> tuple[list[dict], list[str], list[int] | None, bool]:
    """Rows, column names, each row's line in the file (JSON lines; else None) and whether cells are
    untyped text (CSV/TSV) of a CSV/TSV, JSONL/JSON or Parquet file (one-line errors)."""
    if path.is_dir():
        raise SymtuneError(f"data file {path} is a folder; pass the path of a CSV, JSONL or Parquet file")
    if not path.is_file():
        raise SymtuneError(f"data file {path} does not exist; pass the path of a CSV, JSONL or Parquet file")
    if path.stat().st_size == 0:
        raise SymtuneError(f"data file {path} is empty; it needs a header/columns and at least two classes of rows")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    suffix = suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises several types for bad files
            raise SymtuneError(f"data file {path} is not a readable Parquet file ({str(e).splitlines()[0]})") from None
        cols = list(table.column_names)
        if len(set(cols)) < len(cols):
            raise SymtuneError(f"data file {path}: column {_first_repeat(cols)!r} appears twice; "
                               "give every column its own name")
        return table.to_pylist(), cols, None, False
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SymtuneError(f"data file {path} is not UTF-8 (byte {e.start}); re-save it as UTF-8 "
                           "(e.g. iconv -f latin1 -t utf-8)") from None
    if not text.strip():
        raise SymtuneError(f"data file {path} is empty; it needs a header/columns and at least two classes of rows")
    if suffix in (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson"):
        stripped = text.lstrip()
        lineno = 0
        lines: list[int] | None = None
        try:
            if stripped.startswith("["):
                rows = json.loads(stripped)
            else:
                rows, lines = [], []
                for lineno, line in enumerate(text.split("\n"), 1):  # e.lineno counts within one line
                    if line.strip():
                        rows.append(json.loads(line))
                        lines.append(lineno)
        except json.JSONDecodeError as e:
            # a JSON array: e.lineno counts from the first non-blank character
            line_no = lineno or e.lineno + text[: len(text) - len(stripped)].count("\n")
            raise SymtuneError(f"data file {path} is not valid JSON lines (line {line_no}: {e.msg})") from None
        if not all(isinstance(r, dict) for r in rows):
            raise SymtuneError(f"data file {path}: every JSON line must be an object of column: value")
        cols: list[str] = []
        seen = set()
        for r in rows:
            cols += [k for k in r if k not in seen]
            seen.update(r)
        return rows, cols, lines, False
    if suffix in (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt"):
        delim = "\t" if "tsv" in suffix else ","
        # TSV has no quoting (IANA): a text starting with '"' is text, not a field running on over
        # the next rows; newline="" lets csv see CR-only and CRLF line ends as line ends
        quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delim, quoting=quoting)
        old_limit = csv.field_size_limit(_CSV_FIELD_LIMIT)
        try:
            rows = list(reader)
        except csv.Error as e:
            raise SymtuneError(f"data file {path}, line {reader.line_num}: not readable as "
                               f"{'TSV' if delim == chr(9) else 'CSV'} ({e}); fix that line") from None
        finally:
            csv.field_size_limit(old_limit)
        cols = list(reader.fieldnames or [])
        if len(set(cols)) < len(cols):  # DictReader would silently keep the last column of a name
            raise SymtuneError(f"data file {path}: the header names column {_first_repeat(cols)!r} twice; "
                               "give every column its own name")
        return rows, cols, None, True
    raise SymtuneError(f"data file {path}: unsupported extension '{suffix}'; use .csv, .tsv, .jsonl or .parquet")


def _first_repeat(names: list) -> str:
    seen = set()
    for n in names:
        if n in seen:
            return n
        seen.add(n)
    return ""


def _cell_value(value):
    """A CSV/TSV label cell as JSON would have typed it: `1`, `1.0` and `1e0` are the number 1 (cells
    carry no type, and PROMISES says 1.0 is the class 1); anything else stays text."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        t = value.strip()
        return int(t) if t.lstrip("+-").isdigit() else float(t)
    return value


def _label_order(values: list) -> list:
    uniq = list(dict.fromkeys(values))
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def stratified_split(labels: list[int], fraction: float, seed: int) -> list[str]:
    """'train'/'validation' per row: per class, a seeded `fraction` (at least 1 when a class has ≥ 2 rows)."""
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    out = ["train"] * len(labels)
    rng = random.Random(seed)
    for y in sorted(by_class):
        idx = by_class[y][:]
        rng.shuffle(idx)
        n_val = round(len(idx) * fraction)
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        for i in idx[:n_val]:
            out[i] = "validation"
    return out


def task_from_file(path: str | Path, text_col: str, label_col: str, text_pair_col: str | None = None,
                   name: str | None = None, role: str = "eval", instruction: str | None = None,
                   split_col: str | None = None, seed: int = 0, validation_fraction: float = 0.2,
                   labels: Sequence[str] | None = None, task_type: str = "classification") -> Task:
    """A Task from a CSV/TSV, JSONL or Parquet file.

    Without `split_col`, a seeded stratified split (validation_fraction) is made. Class order is the
    sorted label values unless `labels` gives the order (values not listed are dropped).
    """
    p = Path(path)
    task_name = name or p.name.split(".")[0]
    if not task_name.strip():
        raise SymtuneError(f"data file {p} gives an empty task name (its name before the first dot is empty); "
                           "rename the file, e.g. to reviews.csv")
    rows, cols, lines, untyped = _read_table(p)
    if not rows:
        raise SymtuneError(f"data file {p} has no rows; it needs examples of at least two classes")
    for what, col in (("text column", text_col), ("label column", label_col),
                      ("text pair column", text_pair_col), ("split column", split_col)):
        if col is not None and col not in cols:
            raise SymtuneError(f"data file {p}: {what} '{col}' not found; available columns: {', '.join(map(str, cols))}")
    if not 0.0 < validation_fraction < 1.0:
        raise SymtuneError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    for i, r in enumerate(rows):  # str() of a list would put a Python literal into the prompt
        for col in (text_col, text_pair_col):
            if col is not None and isinstance(r.get(col), (list, dict)):
                kind = "a list" if isinstance(r[col], list) else "a mapping"
                at = f"line {lines[i]}" if lines else f"row {i + 1}"
                raise SymtuneError(f"data file {p}, {at}: column '{col}' holds {kind}, not a text; "
                                   "give each row one string")
    raw_cells = [r.get(label_col) for r in rows]
    if untyped:
        raw_cells = [_cell_value(v) for v in raw_cells]
    # one canonical string per class (tasks/labels.py; docs/PROMISES.md); ambiguous labels are refused
    canon = normalise_labels(raw_cells, f"data file {p}, label column '{label_col}'",
                             row_numbers=lines or None, unit="line" if lines else "row")
    keep = [i for i, (r, c) in enumerate(zip(rows, canon))
            if c is not None and r.get(text_col) is not None and str(r[text_col]).strip()]
    if len(keep) < len(rows):
        kept_set = set(keep)
        first = next(i for i in range(len(rows)) if i not in kept_set) + 1
        print(f"symtune: note: data file {p}: dropped {len(rows) - len(keep)} rows with an empty "
              f"(or whitespace-only) text or label, the first at row {first}", file=sys.stderr)
    raw_values = [raw_cells[i] for i in keep]
    rows, raw_labels = [rows[i] for i in keep], [canon[i] for i in keep]
    if labels is not None:
        class_values = [canonical_label(x, f"labels of {p}") for x in labels]
        kept = [i for i, v in enumerate(raw_labels) if v in class_values]
        rows, raw_labels = [rows[i] for i in kept], [raw_labels[i] for i in kept]
    else:
        class_values = class_order(raw_values, raw_labels)
    n_classes = len(set(raw_labels))
    if n_classes < 2:
        found = ", ".join(sorted(set(raw_labels))) or "none"
        raise SymtuneError(f"data file {p}: label column '{label_col}' has {n_classes} class ({found}); "
                           "a classification task needs at least two")
    index = {v: i for i, v in enumerate(class_values)}
    ys = [index[v] for v in raw_labels]
    if split_col:
        splits = []
        for r in rows:
            s = str(r.get(split_col, "")).strip().lower()
            splits.append(_SPLIT_ALIASES.get(s, s))
    else:
        splits = stratified_split(ys, validation_fraction, seed)
    by_split: dict[str, list[Example]] = {}
    for r, y, s in zip(rows, ys, splits):
        pair = r.get(text_pair_col) if text_pair_col else None
        by_split.setdefault(s, []).append(Example(str(r[text_col]), y, None if pair is None else str(pair)))

    def load(split: str) -> list[Example]:
        if split not in by_split:
            raise SymtuneError(f"task {task_name}: no rows in split '{split}'; "
                               f"splits present: {', '.join(sorted(by_split))}")
        return by_split[split]

    return Task(name=task_name, role=role, task_type=task_type, labels=[str(v) for v in class_values],
                instruction=instruction or f"Classify the input as one of: {', '.join(map(str, class_values))}.",
                exemplar_split="train", query_split="validation", source=str(p), pair=text_pair_col is not None,
                description=f"user file {p}", loader=load)
