"""Label normalisation for user task files: one canonical string per class (docs/PROMISES.md).

    symtune data --task-files my.jsonl ...     # labels 1 and 1.0 are one class "1"; "pos " is "pos"

The rule, applied to every label value read from a CSV/JSONL/Parquet file:
- a string is stripped of surrounding whitespace ("pos " -> "pos"); an empty one means "no label";
  one holding a line break (\n, \r, U+2028, ...) is refused: it would inject a line into the prompt;
- a boolean is written `true` / `false` (JSON's spelling);
- an integer is written in decimal; a float with an integer value is that integer (1.0 -> "1"), any
  other finite float its shortest repr (0.5 -> "0.5"); NaN and infinities are refused;
- lists, mappings and other values are refused, naming the row.
Refused too, naming the rows: a column that mixes booleans and numbers (is `1` the class `true`?),
and labels that differ only by letter case ("Neg" and "neg").
Classes are ordered numerically when every label is a number, else by string.
"""

from __future__ import annotations

import math
from typing import Any

from symtune.config import short_repr
from symtune.errors import SymtuneError


def canonical_label(value: Any, where: str) -> str | None:
    """The canonical class string of one raw label value; None when the row has no label."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SymtuneError(f"{where}: label {value!r} is not a finite number; fix or remove the row")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        value = value.strip()
        if len(value.splitlines()) > 1:  # the label is rendered on the answer line: a break adds a line
            raise SymtuneError(f"{where}: the label {short_repr(value)} holds a line break, which would add a "
                               "line to the prompt format; put each label on one line")
        return value or None
    kind = "a list" if isinstance(value, (list, tuple)) else "a mapping" if isinstance(value, dict) \
        else f"a {type(value).__name__}"
    raise SymtuneError(f"{where}: the label holds {kind} ({str(value)[:60]}); each row needs one label, "
                       "a string or a number")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def normalise_labels(values: list, where: str, row_numbers: list[int] | None = None,
                     unit: str = "row") -> list[str | None]:
    """Canonical strings for a column of raw labels (None = no label); raises on the ambiguous cases.

    `where` names the file and column ("data file x.jsonl, label column 'label'"); row_numbers give the
    1-based row (or, with unit="line", the line in the file) of each value for messages (default:
    position + 1)."""
    rows = row_numbers or list(range(1, len(values) + 1))
    out: list[str | None] = []
    first_of_kind: dict[str, tuple[int, Any]] = {}
    spelling: dict[str, tuple[str, int]] = {}
    for v, r in zip(values, rows):
        c = canonical_label(v, f"{where}, {unit} {r}")
        out.append(c)
        if c is None:
            continue
        first_of_kind.setdefault(_kind(v), (r, v))
        if "boolean" in first_of_kind and "number" in first_of_kind:
            (rb, vb), (rn, vn) = first_of_kind["boolean"], first_of_kind["number"]
            raise SymtuneError(f"{where} mixes booleans and numbers ({unit} {rb}: {str(vb).lower()}, {unit} {rn}: {vn}); "
                               "use one kind of label, e.g. all true/false or all 0/1")
        key = c.casefold()
        if key in spelling and spelling[key][0] != c:
            other, ro = spelling[key]
            raise SymtuneError(f"{where} has labels that differ only by case: {other!r} ({unit} {ro}) and {c!r} "
                               f"({unit} {r}); spell each class one way")
        spelling.setdefault(key, (c, r))
    return out


def class_order(raw: list, canonical: list[str]) -> list[str]:
    """Distinct canonical labels in class order: numeric when every raw value is a number, else by string."""
    uniq = list(dict.fromkeys(canonical))
    if raw and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        return sorted(uniq, key=float)
    return sorted(uniq)
