"""The columns of a user's task file, declared once (default and help) for the data stage's --task-files
and the evaluation's --task-file: each config calls these to declare its field.

    text_col: str = columns.text_col()
"""

from __future__ import annotations

from symtune.config import opt


def text_col():
    return opt("text", "Text column of the task file(s).")


def text_pair_col():
    return opt(None, "Optional second-text column of the task file(s) (sentence pairs).")


def label_col():
    return opt("label", "Label column of the task file(s).")
