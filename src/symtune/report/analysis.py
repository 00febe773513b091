"""Numbers behind the report: task means, base -> tuned deltas and their 95% intervals.

The mean of a setting is the unweighted mean of per-task accuracies (the paper's Table 1). The interval
of the delta is computed per task and combined over tasks (the tasks are independent):

* clustered (whenever every task pairs: base and tuned samples_<suite>_<task>.jsonl hold the same
  queries, same doc_id and prompt_hash, pairing done by symtune.eval.stats.pair_rows): the paired
  cluster bootstrap of symtune.eval.stats over source items (queries that show one utterance in
  several tasks count once), hulled with a small-sample score guard; `Comparison.clusters` is
  reported next to `n_paired`;
* otherwise per task, combined over tasks: a task that pairs gives var_t = var(d, ddof=1) / n_t from
  its per-query differences d = correct_tuned - correct_base, one that does not gives
  var_t = se_base^2 + se_tuned^2 from the results' ci95 ((hi - lo) / 3.92, or the binomial
  sqrt(p (1 - p) / n) when ci95 is absent); the interval is delta +- 1.96 * sqrt(sum_t var_t) / T
  ("unpaired" when no task pairs, else "mixed").
Correctness of a row is symtune.eval.metrics.row_correct, the rule results.json was computed by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from symtune.eval.metrics import row_correct
from symtune.eval.stats import Z95, mean_of
from symtune.report.load import Eval, Run



def frac(x) -> float | None:
    """An accuracy as a fraction; values above 1 are taken as percentages."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(float(x)):
        return None
    x = float(x)
    return x / 100.0 if x > 1.0 else x


def task_acc(m: dict, metric: str) -> float | None:
    return frac(m.get(metric, m.get("acc")))


def task_se(m: dict, metric: str) -> float | None:
    """Standard error of one task's accuracy from its ci95 (or the binomial formula)."""
    ci = m.get("ci95")
    if metric in ("acc", None) or metric not in m:
        if isinstance(ci, (list, tuple)) and len(ci) == 2:
            lo, hi = frac(ci[0]), frac(ci[1])
            if lo is not None and hi is not None and hi >= lo:
                return (hi - lo) / (2 * Z95)
    p, n = task_acc(m, metric), m.get("n")
    if p is None or not isinstance(n, (int, float)) or n <= 0:
        return None
    return math.sqrt(max(p * (1 - p), 0.0) / n)


def task_ci(m: dict, metric: str) -> tuple[float, float] | None:
    """95% interval of one task's accuracy: its ci95 (for `acc`), else +-1.96 se clipped to [0, 1]."""
    ci = m.get("ci95")
    if (metric == "acc" or metric not in m) and isinstance(ci, (list, tuple)) and len(ci) == 2:
        lo, hi = frac(ci[0]), frac(ci[1])
        if lo is not None and hi is not None and hi >= lo:
            return lo, hi
    p, se = task_acc(m, metric), task_se(m, metric)
    if p is None or se is None:
        return None
    return max(0.0, p - Z95 * se), min(1.0, p + Z95 * se)


def paired_units(base: Eval, tuned: Eval, suite: str, setting: str, task: str, metric: str,
                 acc_base: float | None = None, acc_tuned: float | None = None) -> list | None:
    """stats.Unit per query of one task and setting (0/1 correctness, clustered by meta.source), or
    None when the samples do not pair or do not reproduce the results' accuracies."""
    from symtune.eval.stats import pair_rows

    rb, rt = base.task_rows(suite, setting, task), tuned.task_rows(suite, setting, task)
    if not rb or not rt:
        return None
    rb = [r for r in rb if r.get("setting", setting) == setting]
    rt = [r for r in rt if r.get("setting", setting) == setting]

    def value(row):
        c = row_correct(row, metric)
        return None if c is None else float(c)

    units = pair_rows(rb, rt, value, task=task)
    if not units:
        return None
    n = len(units)
    for acc, got in ((acc_base, sum(u.base for u in units) / n), (acc_tuned, sum(u.tuned for u in units) / n)):
        if acc is not None and abs(got - acc) > 1.0 / (2 * n):
            return None
    return units


@dataclass
class Comparison:
    """One setting of one run: base -> tuned over the tasks both evaluated."""

    base: float | None = None
    tuned: float | None = None
    base_se: float | None = None  # standard error of the mean (for error bars)
    tuned_se: float | None = None
    ci: tuple[float, float] | None = None  # 95% interval of tuned - base
    method: str = ""  # "clustered" | "unpaired" | "mixed" (paired where a task's samples match) | ""
    n_paired: int = 0  # queries paired
    clusters: int = 0  # distinct source items among them (method "clustered")
    n_eff: float | None = None  # Kish effective number of clusters
    chance: float | None = None
    tasks: list[str] = field(default_factory=list)
    base_only: list[str] = field(default_factory=list)  # tasks left out of the delta
    tuned_only: list[str] = field(default_factory=list)
    from_summary: bool = False  # means taken from results.json "summary" (no per-task numbers)

    @property
    def delta(self) -> float | None:
        if self.base is None or self.tuned is None:
            return None
        return self.tuned - self.base


def _se_of_mean(ses):
    if not ses or any(s is None for s in ses):
        return None
    return math.sqrt(sum(s * s for s in ses)) / len(ses)


def compare(run: Run, suite: str, setting: str, metric: str = "acc", tasks: list[str] | None = None) -> Comparison:
    """Mean accuracy base and tuned for one setting, the delta and its 95% interval."""
    c = Comparison()
    tb = run.base.tasks(suite, setting) if run.base else {}
    tt = run.tuned.tasks(suite, setting) if run.tuned else {}
    if tasks is not None:
        tb = {k: v for k, v in tb.items() if k in tasks}
        tt = {k: v for k, v in tt.items() if k in tasks}
    tb = {k: v for k, v in tb.items() if task_acc(v, metric) is not None}
    tt = {k: v for k, v in tt.items() if task_acc(v, metric) is not None}
    if tb and tt:
        common = [k for k in tb if k in tt]
        c.base_only = sorted(set(tb) - set(tt))
        c.tuned_only = sorted(set(tt) - set(tb))
        tb = {k: tb[k] for k in common}
        tt = {k: tt[k] for k in common}
    c.tasks = list(tb or tt)
    if tb:
        c.base = mean_of(task_acc(m, metric) for m in tb.values())
        c.base_se = _se_of_mean([task_se(m, metric) for m in tb.values()])
    if tt:
        c.tuned = mean_of(task_acc(m, metric) for m in tt.values())
        c.tuned_se = _se_of_mean([task_se(m, metric) for m in tt.values()])
    chances = [frac(m.get("chance")) for m in (tb or tt).values()]
    c.chance = mean_of(chances)
    if tasks is None and not tb and not tt:  # no per-task numbers: fall back to the summary
        for side, ev in (("base", run.base), ("tuned", run.tuned)):
            if ev is not None and frac(ev.summary.get(setting)) is not None:
                setattr(c, side, frac(ev.summary.get(setting)))
                c.from_summary = True
    if not (tb and tt):
        return c
    units = {k: (paired_units(run.base, run.tuned, suite, setting, k, metric, task_acc(tb[k], metric),
                              task_acc(tt[k], metric)) if run.base is not None and run.tuned is not None else None)
             for k in c.tasks}
    if all(units.values()) and c.delta is not None:  # every task pairs: the clustered interval
        from symtune.eval.stats import paired_interval

        iv = paired_interval([u for k in c.tasks for u in units[k]])
        c.ci, c.method, c.n_paired, c.clusters, c.n_eff = iv.ci, "clustered", iv.n, iv.clusters, iv.n_eff
        return c
    # some task does not pair: per-task variances, paired where that task's samples match
    variances, kinds = [], set()
    for k in c.tasks:
        diffs = [u.tuned - u.base for u in units[k]] if units[k] else None
        if diffs is not None and len(diffs) > 1:
            d_mean = sum(diffs) / len(diffs)
            var = sum((d - d_mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs)
            kinds.add("paired")
            c.n_paired += len(diffs)
        else:
            sb, st = task_se(tb[k], metric), task_se(tt[k], metric)
            if sb is None or st is None:
                return c
            var = sb * sb + st * st
            kinds.add("unpaired")
        variances.append(var)
    if c.delta is not None:
        half = Z95 * math.sqrt(sum(variances)) / len(variances)
        c.ci = (c.delta - half, c.delta + half)
        c.method = "unpaired" if kinds == {"unpaired"} else "mixed"
    return c


def per_task(run: Run, suite: str, setting: str, metric: str = "acc") -> dict[str, dict]:
    """task -> {"base", "tuned", "delta", "n", "chance", "category"} for one run."""
    tb = run.base.tasks(suite, setting) if run.base else {}
    tt = run.tuned.tasks(suite, setting) if run.tuned else {}
    out: dict[str, dict] = {}
    for task in list(tb) + [t for t in tt if t not in tb]:
        mb, mt = tb.get(task), tt.get(task)
        b = task_acc(mb, metric) if mb else None
        t = task_acc(mt, metric) if mt else None
        any_m = mt or mb or {}
        ci_b = task_ci(mb, metric) if mb else None
        ci_t = task_ci(mt, metric) if mt else None
        out[task] = {"base": b, "tuned": t, "delta": (t - b) if b is not None and t is not None else None,
                     "base_se": task_se(mb, metric) if mb else None, "tuned_se": task_se(mt, metric) if mt else None,
                     "base_ci": ci_b, "tuned_ci": ci_t, "n": any_m.get("n"), "chance": frac(any_m.get("chance")),
                     "category": any_m.get("category")}
    return out


def categories(run: Run, metric: str = "acc") -> dict[str, list[str]]:
    """List Functions: category -> subtasks (from a metric's 'category' field, else the evaluation's
    notes.list_functions_categories; 'other' when neither names one)."""
    cats: dict[str, list[str]] = {}
    for ev in (run.base, run.tuned):
        if ev is None:
            continue
        listed = (ev.doc.get("notes") or {}).get("list_functions_categories") or {}
        of = {t: c for c, ts in listed.items() if isinstance(ts, list) for t in ts}
        for task, m in ev.tasks("algorithmic", "list_functions").items():
            cat = str(m.get("category") or of.get(task) or "other")
            if task not in cats.setdefault(cat, []):
                cats[cat].append(task)
    return cats


def train_summary(run: Run) -> dict | None:
    rows = [r for r in run.train_log if isinstance(r.get("loss"), (int, float)) and isinstance(r.get("step"), (int, float))]
    if not rows:
        return None
    losses = [float(r["loss"]) for r in rows]
    tail = losses[-max(1, min(10, len(losses) // 10 or 1)):]
    tps = [float(r["tokens_per_s"]) for r in rows if isinstance(r.get("tokens_per_s"), (int, float))]
    lrs = [float(r["lr"]) for r in rows if isinstance(r.get("lr"), (int, float))]
    return {"steps": int(max(r["step"] for r in rows)), "logged": len(rows), "first_loss": losses[0],
            "final_loss": sum(tail) / len(tail), "tail": len(tail), "min_loss": min(losses),
            "tokens_per_s": sum(tps) / len(tps) if tps else None, "peak_lr": max(lrs) if lrs else None}


def same_base(runs: list[Run]) -> bool:
    """True when every run's base evaluation holds identical results (shown once in the plots)."""
    bases = [r.base.results for r in runs if r.base is not None]
    return len(bases) == len(runs) and all(b == bases[0] for b in bases[1:])
