"""Metrics from sample rows only (so results can be recomputed from samples_*.jsonl).

Per suite/setting/task: acc (argmax of summed option log-probs), acc_norm (argmax of the per-token
mean log-prob: summed log-prob / option token count), acc_gen (greedy generation exact-matches the
gold label, when generated), n, ci95 (Wilson score interval of the primary metric), chance
(1/#classes; 0 for open-ended tasks, where exact match has no fixed chance level) and
majority_share (share of queries given the most frequent prediction; 1.0 = constant predictor).
Open-ended (algorithmic) tasks: acc = acc_gen = exact match, acc_norm = null.

summary: setting -> unweighted mean of the primary metric over tasks ("acc" with --scoring rank,
"acc_gen" with --scoring generate; always exact match for algorithmic), plus summary["chance"].
"""

from __future__ import annotations

from collections import Counter, defaultdict

from symtune.eval.config import ICL_SETTINGS
from symtune.eval.stats import wilson

SUMMARY_KEYS = ICL_SETTINGS + ("flipped", "list_functions", "simp_turing_concept")
SUMMARY_SUITES = ("icl", "flipped", "algorithmic")


def gen_pred(row: dict) -> int | None:
    """Option index whose label equals the generation (exact match after trimming), else -1."""
    g = row.get("generation")
    if g is None:
        return None
    for i, o in enumerate(row["options"]):
        if g == o.strip():
            return i
    return -1


def prediction(row: dict, metric: str = "acc") -> int | None:
    """The predicted option index under a metric (None for open-ended rows). A row scored without
    generation is judged by its ranking under acc_gen, as task_metrics does for such a task."""
    if not row.get("options"):
        return None
    if metric == "acc_gen" and row.get("generation") is not None:
        return gen_pred(row)
    if metric == "acc_norm":
        return row.get("pred_norm")
    return row.get("pred")


def row_correct(row: dict, metric: str = "acc") -> bool | None:
    """The one rule for "is this sample row right" (metrics, diagnostics, curves, the report):
    None when the row lacks what the metric needs."""
    if not row.get("options"):  # open-ended: exact match of the trimmed generation
        g = row.get("generation")
        return None if g is None else g == row["gold"]
    p = prediction(row, metric)
    return None if p is None else p == row["gold"]


def task_metrics(rows: list[dict], primary: str) -> dict:
    n = len(rows)
    open_ended = bool(rows) and not rows[0]["options"]
    out: dict = {}
    if open_ended:
        k = sum(bool(row_correct(r, "acc_gen")) for r in rows)
        out["acc"] = k / n if n else 0.0
        out["acc_norm"] = None
        out["acc_gen"] = out["acc"]
        preds = [r.get("generation") for r in rows]
        chance = 0.0
        k_primary = k
    else:
        generated = any(r.get("generation") is not None for r in rows)  # --scoring generate: every row
        for m in ("acc", "acc_norm") + (("acc_gen",) if generated else ()):
            out[m] = sum(bool(row_correct(r, m)) for r in rows) / n if n else 0.0
        use = primary if (primary != "acc_gen" or generated) else "acc"
        k_primary = sum(bool(row_correct(r, use)) for r in rows)
        preds = [prediction(r, use) for r in rows]
        chance = 1.0 / len(rows[0]["options"]) if rows else 0.0
    out["n"] = n
    out["ci95"] = list(wilson(k_primary / n, n)) if n else [0.0, 1.0]
    out["chance"] = chance
    out["majority_share"] = (Counter(preds).most_common(1)[0][1] / n) if n else 0.0
    out["n_shortened"] = sum(bool(r.get("meta", {}).get("shortened")) for r in rows)
    return out


def aggregate(rows_by_file: dict[tuple[str, str], list[dict]], primary: str) -> tuple[dict, dict, dict]:
    """rows per (suite, task file) -> (results, summary, categories)."""
    grouped: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for (suite, _task), rows in rows_by_file.items():
        for r in rows:
            grouped[suite][r["setting"]][r.get("key") or r["task"]].append(r)
    results: dict = {}
    for suite in grouped:
        results[suite] = {}
        for setting in grouped[suite]:
            results[suite][setting] = {key: task_metrics(rows, primary)
                                       for key, rows in sorted(grouped[suite][setting].items())}

    def metric_of(m: dict) -> float:
        return m.get(primary) if m.get(primary) is not None else m["acc"]

    summary: dict = {k: None for k in SUMMARY_KEYS}
    chance: dict = {}
    for suite, settings in results.items():
        if suite not in SUMMARY_SUITES:  # perm_control / curves reuse setting names; not the summary's
            continue
        for setting, tasks in settings.items():
            if setting in summary and tasks:
                summary[setting] = sum(metric_of(m) for m in tasks.values()) / len(tasks)
                chance[setting] = sum(m["chance"] for m in tasks.values()) / len(tasks)
    summary["chance"] = chance
    summary["metric"] = primary
    categories: dict = {}
    lf = results.get("algorithmic", {}).get("list_functions")
    if lf:
        by_cat: dict = defaultdict(list)
        for r in rows_by_file.get(("algorithmic", "list_functions"), []):
            by_cat[r["meta"]["category"]].append(r["key"])
        categories["list_functions"] = {
            cat: sum(lf[s]["acc"] for s in sorted(set(keys))) / len(set(keys)) for cat, keys in by_cat.items()}
    return results, summary, categories
