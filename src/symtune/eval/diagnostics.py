"""ICL diagnostics from sample rows only (results.json "diagnostics"; `symtune report` recomputes them
from samples files, so no model is ever rerun).

    from symtune.eval.diagnostics import diagnostics
    diag = diagnostics(rows_by_file, "acc")   # suite -> setting -> task -> numbers

Per suite (icl, flipped) / setting / task:
* majority_share: share of queries given the most frequent prediction (1.0 = a constant predictor).
* copy_last: share of predictions equal to the label the last exemplar showed (`meta.shown[-1]`);
  copy_last_gold is the share whose gold equals it (what a perfect model would "copy").
* by_family (symbol settings): per symbol family (int / letters / word, `meta.families`): n and
  accuracy of the queries whose gold symbol is of that family, the share of predictions of that
  family and the share of options of that family (a prediction share above the option share = a
  preference for that family).
* by_length: the options' token lengths equal vs unequal within a prompt: n and accuracy of each;
  for unequal prompts also pred_shortest (share of predictions that are a shortest option) and
  shortest_share (the share a random pick would give).
* perm_control (when that suite ran): per symbol setting and task, on the queries scored with both
  assignments: acc_original, acc_permuted, acc_balanced (their mean: a model that reads only the
  symbols' meaning scores chance here, one that follows the mapping keeps its accuracy),
  same_class (same class predicted under both assignments: follows the mapping) and same_symbol
  (same symbol predicted: follows the symbols themselves).

Cost: these are computed from the rows the evaluation writes anyway (no extra prompts), except the
permutation control, which is opt-in (`--permutation-control`) and adds one prompt per symbol-setting
query (+50% prompts for the default four settings).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from symtune.eval.metrics import prediction, row_correct

FAMILIES = ("int", "letters", "word")
DIAGNOSED_SUITES = ("icl", "flipped")


def _share(k: int, n: int) -> float | None:
    return k / n if n else None


def task_diagnostics(rows: list[dict], metric: str = "acc") -> dict:
    """The diagnostics of one (suite, setting, task) group of classification rows."""
    rows = [r for r in rows if r.get("options")]
    n = len(rows)
    preds = [prediction(r, metric) for r in rows]
    correct = [bool(row_correct(r, metric)) for r in rows]
    out: dict = {"n": n, "acc": _share(sum(correct), n),
                 "majority_share": _share(Counter(preds).most_common(1)[0][1], n) if n else None}
    shown = [(r.get("meta") or {}).get("shown") for r in rows]
    has_last = [(p, r, s[-1]) for p, r, s in zip(preds, rows, shown) if s]
    if has_last:
        out["copy_last"] = _share(sum(p == last for p, _, last in has_last), len(has_last))
        out["copy_last_gold"] = _share(sum(r["gold"] == last for _, r, last in has_last), len(has_last))
    fam_rows = [(p, r, (r.get("meta") or {}).get("families")) for p, r in zip(preds, rows)]
    fam_rows = [(p, r, f) for p, r, f in fam_rows if f and len(f) == len(r["options"])]
    if fam_rows:
        by: dict = {}
        n_opts = sum(len(f) for _, _, f in fam_rows)
        for fam in FAMILIES:
            gold_f = [(p, r) for p, r, f in fam_rows if f[r["gold"]] == fam]
            pred_f = sum(1 for p, _, f in fam_rows if p is not None and 0 <= p < len(f) and f[p] == fam)
            opt_f = sum(f.count(fam) for _, _, f in fam_rows)
            if opt_f:
                by[fam] = {"n": len(gold_f), "acc": _share(sum(p == r["gold"] for p, r in gold_f), len(gold_f)),
                           "pred_share": _share(pred_f, len(fam_rows)), "option_share": _share(opt_f, n_opts)}
        out["by_family"] = by
    lens = [(p, r, r.get("option_tokens")) for p, r in zip(preds, rows)]
    lens = [(p, r, t) for p, r, t in lens if isinstance(t, list) and len(t) == len(r["options"])]
    if lens:
        eq = [(p, r) for p, r, t in lens if len(set(t)) == 1]
        uneq = [(p, r, t) for p, r, t in lens if len(set(t)) > 1]
        by_len: dict = {"equal": {"n": len(eq), "acc": _share(sum(p == r["gold"] for p, r in eq), len(eq))},
                        "unequal": {"n": len(uneq), "acc": _share(sum(p == r["gold"] for p, r, _ in uneq), len(uneq))}}
        if uneq:
            by_len["unequal"]["pred_shortest"] = _share(
                sum(p is not None and 0 <= p < len(t) and t[p] == min(t) for p, _, t in uneq), len(uneq))
            by_len["unequal"]["shortest_share"] = sum(t.count(min(t)) / len(t) for _, _, t in uneq) / len(uneq)
        out["by_length"] = by_len
    return out


def perm_control(original: list[dict], permuted: list[dict], metric: str = "acc") -> dict | None:
    """Compare a task's symbol-setting rows with their permuted twins (matched by doc_id)."""
    orig = {r["doc_id"]: r for r in original}
    pairs = [(orig[r["doc_id"]], r) for r in permuted if r["doc_id"] in orig]
    if not pairs:
        return None
    n = len(pairs)
    po = [prediction(o, metric) for o, _ in pairs]
    pp = [prediction(p, metric) for _, p in pairs]
    acc_o = sum(bool(row_correct(o, metric)) for o, _ in pairs) / n
    acc_p = sum(bool(row_correct(p, metric)) for _, p in pairs) / n

    def symbol(row, i):
        return row["options"][i] if i is not None and 0 <= i < len(row["options"]) else None

    return {"n": n, "acc_original": acc_o, "acc_permuted": acc_p, "acc_balanced": (acc_o + acc_p) / 2,
            "same_class": sum(a == b for a, b in zip(po, pp)) / n,
            "same_symbol": sum(symbol(o, a) == symbol(p, b) for (o, p), a, b in zip(pairs, po, pp)) / n}


def diagnostics(rows_by_file: dict, metric: str = "acc") -> dict:
    """rows per (suite, task file) -> suite -> setting -> task -> diagnostics (classification only)."""
    grouped: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for (suite, _task), rows in rows_by_file.items():
        for r in rows:
            if r.get("options"):
                grouped[suite][r["setting"]][r.get("key") or r["task"]].append(r)
    out: dict = {}
    for suite in sorted(grouped):
        if suite not in DIAGNOSED_SUITES:  # the curves have their own summary (curves.py)
            continue
        out[suite] = {s: {t: task_diagnostics(rs, metric) for t, rs in sorted(tasks.items())}
                      for s, tasks in grouped[suite].items()}
    if "perm_control" in grouped:
        block: dict = {}
        for setting, tasks in grouped["perm_control"].items():
            for task, rows in sorted(tasks.items()):
                d = perm_control(grouped.get("icl", {}).get(setting, {}).get(task, []), rows, metric)
                if d is not None:
                    block.setdefault(setting, {})[task] = d
        out["perm_control"] = block
    return out
