"""Tuned run A against tuned run B on the same queries: does the symbol-tuned run beat its control?

    from symtune.report.contrast import contrast, mismatches
    rows = contrast(load_run("runs/st"), load_run("runs/st_natural"))   # [(suite, setting, Comparison)]

The paper's claim that continued instruction tuning does not reproduce symbol tuning's gain is a difference
between two tuned models, not between each and its base. Each setting's A − B comes with the same paired
cluster-bootstrap interval the report uses for tuned − base (A's tuned evaluation takes the base's place in
symtune.report.analysis.compare), so a query's two answers stay together. Two evaluations that did not score
the same prompts alike (dtype, device, split, tasks, seeds, settings...) differ by more than the tuning:
`mismatches` names each such field, and callers refuse or flag the contrast.
"""

from __future__ import annotations

from symtune.report.analysis import Comparison, compare
from symtune.report.load import Run
from symtune.report.measures import DIAG_SETTINGS

# What a contrast covers: the four ICL settings, flipped labels and the two algorithmic suites.
SETTINGS = (*DIAG_SETTINGS, ("algorithmic", "list_functions"), ("algorithmic", "simp_turing_concept"))

# Evaluation config fields that may differ between two runs of one contrast: what is compared (the adapter
# and its scale) and how the work was spread (batching, processes, threads, progress), never what is scored.
RUN_ONLY = {"adapter", "adapter_scale", "model", "batch_size", "threads", "processes", "chunk_size", "force",
            "progress"}


def mismatches(doc_a: dict, doc_b: dict) -> list[str]:
    """'field: A vs B' for every way two evaluations (results.json documents) were not run alike: the
    resolved dtype and device, then the evaluation config outside RUN_ONLY (split, tasks, seed, k, ...)."""
    out = [f"{k}: {doc_a.get(k)} vs {doc_b.get(k)}" for k in ("dtype", "device") if doc_a.get(k) != doc_b.get(k)]
    ca, cb = doc_a.get("config") or {}, doc_b.get("config") or {}
    out += [f"eval.{k}: {ca.get(k)} vs {cb.get(k)}" for k in sorted(set(ca) | set(cb))
            if k not in RUN_ONLY and ca.get(k) != cb.get(k)]
    return out


def contrast(a: Run, b: Run, metric: str = "acc") -> list[tuple[str, str, Comparison]]:
    """Per setting both runs evaluated: Comparison with .tuned = A's accuracy, .base = B's, .delta = A − B
    and its interval (clustered where every task's samples pair, else per-task variances)."""
    if a.tuned is None or b.tuned is None:
        return []
    pair = Run(path=a.path, label=f"{a.label} - {b.label}", base=b.tuned, tuned=a.tuned)
    out = []
    for suite, setting in SETTINGS:
        c = compare(pair, suite, setting, metric)
        if c.delta is not None:
            out.append((suite, setting, c))
    return out
