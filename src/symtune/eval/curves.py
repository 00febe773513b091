"""The flip-proportion and exemplars-per-class curves from sample rows (results.json "curves").

    from symtune.eval.curves import curves, slope_weights
    c = curves(rows_by_file, "acc")    # {"flip_curve": {...}, "k_curve": {...}} for the suites that ran

flip_curve (binary tasks, gold unchanged): per task the accuracy at each flip proportion p, and the
curve's **slope**, the least-squares slope of accuracy against p, computed per query as
sum_p w_p * correct_p with w_p = (p - mean p) / sum (p - mean p)^2, then averaged (per task, then
over tasks). A model that follows the exemplars falls steeply (slope near -1: right at p=0, wrong
at p=1); one that ignores them stays flat (slope 0). `natural` is the accuracy at p=0 and
`flipped_paper` = 1 - accuracy at p=1 (the paper's protocol on the same prompts: all exemplar labels
and the gold flipped), so flipped accuracy sits beside natural accuracy on the same queries.

k_curve: per setting (labels, symbols) the accuracy at each k exemplars per class, per task and the
mean over tasks.
"""

from __future__ import annotations

import re
from collections import defaultdict

from symtune.eval.metrics import row_correct
from symtune.eval.stats import mean_of


def slope_weights(props: list[float]) -> dict[float, float]:
    """Least-squares weights: slope = sum_p w_p * acc_p."""
    mean = sum(props) / len(props)
    ss = sum((p - mean) ** 2 for p in props)
    if ss == 0:
        return {p: 0.0 for p in props}
    return {p: (p - mean) / ss for p in props}


def slope_range(props: list[float]) -> tuple[float, float]:
    """Smallest and largest possible per-query slope (correctness 0/1 at each proportion)."""
    w = slope_weights(props).values()
    return sum(x for x in w if x < 0), sum(x for x in w if x > 0)


def _prop(row: dict) -> float | None:
    p = (row.get("meta") or {}).get("proportion")
    if isinstance(p, (int, float)):
        return float(p)
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)", str(row.get("setting", "")))
    return float(m.group(1)) if m else None


def query_curves(rows: list[dict], metric: str = "acc") -> dict[int, dict[float, int]]:
    """doc_id -> {proportion: correct 0/1} for one task's flip_curve rows."""
    out: dict = defaultdict(dict)
    for r in rows:
        p = _prop(r)
        if p is not None and r.get("options"):
            out[r["doc_id"]][p] = int(bool(row_correct(r, metric)))
    return dict(out)


def query_slopes(rows: list[dict], metric: str = "acc") -> dict[int, float]:
    """doc_id -> that query's least-squares slope (queries scored at every proportion only)."""
    qc = query_curves(rows, metric)
    props = sorted({p for c in qc.values() for p in c})
    w = slope_weights(props)
    return {d: sum(w[p] * c[p] for p in props) for d, c in qc.items() if len(c) == len(props)}


def flip_curve_summary(rows_by_task: dict[str, list[dict]], metric: str = "acc") -> dict:
    tasks: dict = {}
    for task, rows in sorted(rows_by_task.items()):
        qc = query_curves(rows, metric)
        props = sorted({p for c in qc.values() for p in c})
        acc = {p: sum(c[p] for c in qc.values() if p in c) / sum(1 for c in qc.values() if p in c) for p in props}
        slopes = query_slopes(rows, metric)
        t = {"n": len(qc), "acc": {f"{p:g}": a for p, a in acc.items()},
             "slope": sum(slopes.values()) / len(slopes) if slopes else None}
        if 0.0 in acc:
            t["natural"] = acc[0.0]
        if 1.0 in acc:
            t["flipped_paper"] = 1.0 - acc[1.0]
        tasks[task] = t
    out: dict = {"tasks": tasks}
    if tasks:
        keys = sorted({k for t in tasks.values() for k in t["acc"]}, key=float)
        out["mean"] = {k: mean_of([t["acc"].get(k) for t in tasks.values()]) for k in keys}
        out["slope"] = mean_of([t["slope"] for t in tasks.values()])
        out["natural"] = mean_of([t.get("natural") for t in tasks.values()])
        out["flipped_paper"] = mean_of([t.get("flipped_paper") for t in tasks.values()])
    return out


def k_curve_summary(rows_by_task: dict[str, list[dict]], metric: str = "acc") -> dict:
    acc: dict = defaultdict(lambda: defaultdict(dict))  # setting -> k -> task -> acc
    for task, rows in sorted(rows_by_task.items()):
        groups: dict = defaultdict(list)
        for r in rows:
            m = re.fullmatch(r"(.+)@k(\d+)", str(r.get("setting", "")))
            if m and r.get("options"):
                groups[(m.group(1), int(m.group(2)))].append(int(bool(row_correct(r, metric))))
        for (setting, k), cs in groups.items():
            acc[setting][k][task] = sum(cs) / len(cs)
    out: dict = {}
    for setting, by_k in acc.items():
        out[setting] = {"k": sorted(by_k), "mean": [mean_of(list(by_k[k].values())) for k in sorted(by_k)],
                        "tasks": {t: [by_k[k].get(t) for k in sorted(by_k)]
                                  for t in sorted({t for v in by_k.values() for t in v})}}
    return out


def curves(rows_by_file: dict, metric: str = "acc") -> dict:
    """rows per (suite, task file) -> {"flip_curve": ..., "k_curve": ...} for the suites present."""
    out: dict = {}
    for suite, fn in (("flip_curve", flip_curve_summary), ("k_curve", k_curve_summary)):
        by_task = {task: rows for (s, task), rows in rows_by_file.items() if s == suite}
        if by_task:
            out[suite] = fn(by_task, metric)
    return out
