"""Vendored BIG-bench algorithmic data: List Functions and Simple Turing Concepts."""

from __future__ import annotations

from symtune.errors import SymtuneError
from symtune.tasks.bundled import _read_rows

ALGORITHMIC = ("list_functions", "simp_turing_concept")


def load_algorithmic(name: str) -> list[dict]:
    """Vendored BIG-bench algorithmic data.

    list_functions: 250 records {name: "c001", description, task_prefix, examples: [{input, target}] x 32}.
    simp_turing_concept: 2,130 records of additional_set_2 {subset, input (with predetermined shots),
    target, comment ("[program, n_instructions, ...]"), program, n_instructions}.
    """
    if name not in ALGORITHMIC:
        raise SymtuneError(f"unknown algorithmic task '{name}'; choose one of {', '.join(ALGORITHMIC)}")
    records = [dict(r) for r in _read_rows(f"{name}.jsonl.gz")]
    if name == "simp_turing_concept":
        import ast

        for r in records:
            prog, n_instr = ast.literal_eval(r["comment"])[:2]
            r["program"], r["n_instructions"] = prog, int(n_instr)
    return records
