"""Numbers behind the report's measurement sections, from samples files only (no model is rerun).

    from symtune.report.measures import intervals, diagnostics_summary, perm_summary, flip_summary, k_summary

* intervals: per setting, Δ with the clustered paired interval (symtune.eval.stats), n, clusters,
  the Kish effective number of clusters, and the naive interval (queries independent) beside it;
* diagnostics_summary: symtune.eval.diagnostics per setting and side (base / tuned), as task means
  (accuracy, majority share, copy-last) and pooled over the tasks' queries (symbol families, token
  lengths), plus the per-task numbers;
* perm_summary: the permutation control per symbol setting and side, and the paired Δ of the
  assignment-balanced accuracy with its clustered interval;
* flip_summary / k_summary: the flip-proportion and exemplars-per-class curves per side, the flip
  curve's slope, natural (p = 0) and paper-flipped (1 - accuracy at p = 1) accuracy with paired,
  clustered intervals of their Δ.
"""

from __future__ import annotations

from symtune.eval.curves import flip_curve_summary, k_curve_summary, query_curves, slope_range, slope_weights
from symtune.eval.diagnostics import perm_control, task_diagnostics
from symtune.eval.metrics import row_correct
from symtune.eval.stats import PairedInterval, Unit, cluster_of, mean_of, paired_interval
from symtune.report.analysis import paired_units, task_acc
from symtune.report.load import Eval, Run

DIAG_SETTINGS = (("icl", "instr+labels"), ("icl", "labels"), ("icl", "instr+symbols"), ("icl", "symbols"),
                 ("flipped", "flipped"))


def split_of(ev: Eval | None) -> str | None:
    notes = (ev.doc.get("notes") or {}) if ev is not None else {}
    split = notes.get("split")
    return split.get("name") if isinstance(split, dict) else None


def _tasks(ev: Eval | None, suite: str, setting: str | None = None) -> list[str]:
    if ev is None:
        return []
    block = ev.results.get(suite, {})
    if not isinstance(block, dict):
        return []
    names: list[str] = []
    for s, tasks in block.items():
        if (setting is None or s == setting) and isinstance(tasks, dict):
            names += [t for t in tasks if t not in names]
    return sorted(names)


def _rows(ev: Eval, suite: str, task: str, setting: str | None = None) -> list[dict]:
    rows = ev.samples(suite, task) or []
    return [r for r in rows if setting is None or r.get("setting") == setting]


def _interval(units: list[Unit] | None, value_range=(0.0, 1.0)) -> tuple[PairedInterval, PairedInterval] | None:
    if not units:
        return None
    return paired_interval(units, value_range), paired_interval(units, value_range, clustered=False)


# ---------------------------------------------------------------- intervals
def setting_units(run: Run, suite: str, setting: str, metric: str = "acc") -> list[Unit] | None:
    """0/1 units of every task both sides evaluated, or None when one of them does not pair."""
    if run.base is None or run.tuned is None:
        return None
    tb, tt = run.base.tasks(suite, setting), run.tuned.tasks(suite, setting)
    units: list[Unit] = []
    for task in sorted(set(tb) & set(tt)):
        u = paired_units(run.base, run.tuned, suite, setting, task, metric, task_acc(tb[task], metric),
                         task_acc(tt[task], metric))
        if u is None:
            return None
        units += u
    return units or None


def intervals(run: Run, metric: str = "acc") -> list[dict]:
    """One row per setting that pairs: Δ, clustered and naive intervals, n, clusters, n_eff."""
    out = []
    for suite, setting in DIAG_SETTINGS:
        got = _interval(setting_units(run, suite, setting, metric))
        if got:
            iv, naive = got
            out.append({"suite": suite, "setting": setting, "iv": iv, "naive": naive})
    return out


# ---------------------------------------------------------------- diagnostics
def diagnostics_summary(ev: Eval | None, metric: str = "acc") -> dict:
    """(suite, setting) -> {"mean": ..., "pooled": ..., "tasks": {task: diagnostics}}."""
    out: dict = {}
    if ev is None:
        return out
    for suite, setting in DIAG_SETTINGS:
        per_task, pooled_rows = {}, []
        for task in _tasks(ev, suite, setting):
            rows = [r for r in _rows(ev, suite, task, setting) if r.get("options")]
            if rows:
                per_task[task] = task_diagnostics(rows, metric)
                pooled_rows += rows
        if not per_task:
            continue
        mean = {k: mean_of([d.get(k) for d in per_task.values()])
                for k in ("acc", "majority_share", "copy_last", "copy_last_gold")}
        out[(suite, setting)] = {"mean": mean, "pooled": task_diagnostics(pooled_rows, metric), "tasks": per_task}
    return out


# ---------------------------------------------------------------- permutation control
def _balanced(orig: list[dict], perm: list[dict], task: str, metric: str) -> dict:
    """(task, doc_id) -> (cluster, mean correctness over both assignments, prompt hash) per query."""
    by_doc = {r["doc_id"]: r for r in orig}
    out = {}
    for r in perm:
        o = by_doc.get(r["doc_id"])
        if o is not None:
            v = (float(bool(row_correct(o, metric))) + float(bool(row_correct(r, metric)))) / 2
            out[(task, r["doc_id"])] = (cluster_of(o, task), v, o.get("prompt_hash"))
    return out


def perm_summary(run: Run, metric: str = "acc") -> dict:
    """setting -> {"base": task means, "tuned": ..., "delta_balanced": (iv, naive) or None}."""
    out: dict = {}
    settings = sorted({s for ev in (run.base, run.tuned) if ev is not None
                       for s in (ev.results.get("perm_control") or {})})
    keys = ("acc_original", "acc_permuted", "acc_balanced", "same_class", "same_symbol")
    for setting in settings:
        entry: dict = {}
        balanced: dict = {}
        for side, ev in (("base", run.base), ("tuned", run.tuned)):
            if ev is None:
                continue
            per_task = {}
            for task in _tasks(ev, "perm_control", setting):
                orig, perm = _rows(ev, "icl", task, setting), _rows(ev, "perm_control", task, setting)
                d = perm_control(orig, perm, metric)
                if d:
                    per_task[task] = d
                    balanced.setdefault(side, {}).update(_balanced(orig, perm, task, metric))
            if per_task:
                entry[side] = {k: mean_of([d[k] for d in per_task.values()]) for k in keys}
                entry[side]["n"] = sum(d["n"] for d in per_task.values())
        b, t = balanced.get("base", {}), balanced.get("tuned", {})
        if b and t and set(b) == set(t) and all(b[k][2] == t[k][2] for k in b):
            entry["delta_balanced"] = _interval([Unit(k[0], b[k][0], b[k][1], t[k][1]) for k in sorted(b)])
        if entry:
            out[setting] = entry
    return out


# ---------------------------------------------------------------- curves
def _flip_units(run: Run, metric: str, what: str) -> list[Unit] | None:
    """Paired per-query units of the flip curve: what = slope | natural | flipped_paper."""
    if run.base is None or run.tuned is None:
        return None
    units: list[Unit] = []
    for task in sorted(set(_tasks(run.base, "flip_curve")) & set(_tasks(run.tuned, "flip_curve"))):
        rb, rt = _rows(run.base, "flip_curve", task), _rows(run.tuned, "flip_curve", task)
        hb = {(r["doc_id"], r.get("setting")): r.get("prompt_hash") for r in rb}
        ht = {(r["doc_id"], r.get("setting")): r.get("prompt_hash") for r in rt}
        if hb != ht or not hb:
            return None
        cb, ct = query_curves(rb, metric), query_curves(rt, metric)
        props = sorted({p for c in cb.values() for p in c})
        w = slope_weights(props)
        src = {r["doc_id"]: cluster_of(r, task) for r in rb}
        for doc in sorted(cb):
            if len(cb[doc]) != len(props) or len(ct.get(doc, {})) != len(props):
                continue
            if what == "slope":
                vb, vt = (sum(w[p] * c[doc][p] for p in props) for c in (cb, ct))
            elif what == "natural" and 0.0 in props:
                vb, vt = cb[doc][0.0], ct[doc][0.0]
            elif what == "flipped_paper" and 1.0 in props:
                vb, vt = 1 - cb[doc][1.0], 1 - ct[doc][1.0]
            else:
                return None
            units.append(Unit(task, src[doc], float(vb), float(vt)))
    return units or None


def flip_summary(run: Run, metric: str = "acc") -> dict | None:
    """{"base": curve summary, "tuned": ..., "delta": {slope|natural|flipped_paper: (iv, naive)}}."""
    out: dict = {}
    for side, ev in (("base", run.base), ("tuned", run.tuned)):
        tasks = _tasks(ev, "flip_curve")
        if tasks:
            out[side] = flip_curve_summary({t: _rows(ev, "flip_curve", t) for t in tasks}, metric)
    if not out:
        return None
    props = sorted({float(k) for s in out.values() for k in (s.get("mean") or {})})
    deltas = {}
    for what, rng in (("slope", slope_range(props) if len(props) > 1 else (0.0, 1.0)), ("natural", (0.0, 1.0)),
                      ("flipped_paper", (0.0, 1.0))):
        got = _interval(_flip_units(run, metric, what), rng)
        if got:
            deltas[what] = got
    out["delta"] = deltas
    return out


def k_summary(run: Run, metric: str = "acc") -> dict | None:
    out: dict = {}
    for side, ev in (("base", run.base), ("tuned", run.tuned)):
        tasks = _tasks(ev, "k_curve")
        if tasks:
            out[side] = k_curve_summary({t: _rows(ev, "k_curve", t) for t in tasks}, metric)
    return out or None
