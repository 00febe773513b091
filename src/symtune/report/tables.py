"""The report's comparison tables: Table 1 (four ICL settings), the other suites, per task, List Functions.

    from symtune.report.tables import table1
    table, notes = table1(runs, "acc")    # a blocks.Table and the notes under it
"""

from __future__ import annotations

from symtune.eval.build import unqueried_warning
from symtune.report.analysis import Comparison, categories, compare, per_task, same_base
from symtune.report.blocks import Table
from symtune.report.fmt import DASH, SETTING_ROWS, interval, pct, signed
from symtune.report.load import Run


def _labelled(runs: list[Run], col: str, r: Run) -> str:
    return f"{r.label}: {col}" if len(runs) > 1 else col


def _compare_header(runs: list[Run], with_ci: bool = True) -> tuple[list[str], bool]:
    """Column names for base/tuned/delta(/CI) per run; one shared base column when all runs share it."""
    shared = len(runs) > 1 and same_base(runs)
    cols = ["base (all runs)"] if shared else []
    for r in runs:
        if shared:
            cols += [f"{r.label}: tuned", f"{r.label}: Δ"]
        else:
            cols += [_labelled(runs, "base", r), _labelled(runs, "tuned", r), _labelled(runs, "Δ", r)]
        if with_ci:
            cols.append(_labelled(runs, "95% CI of Δ", r))
    return cols, shared


def _compare_cells(items: list[tuple], shared: bool) -> list[str]:
    """items: (base, tuned, delta, ci or "skip") per run -> cells in _compare_header order."""
    cells = [pct(items[0][0])] if shared else []
    for base, tuned, delta, *ci in items:
        cells += ([] if shared else [pct(base)]) + [pct(tuned), signed(delta)]
        if ci:
            cells.append(interval(ci[0]))
    return cells


def table1(runs: list[Run], metric: str = "acc") -> tuple[Table, list[str]]:
    """The paper's Table 1: four ICL settings, base -> tuned, delta, its 95% interval, chance."""
    cols, shared = _compare_header(runs)
    header = ["Setting"] + cols + ["Chance"]
    rows, notes = [], []
    comps: dict[str, list[Comparison]] = {}
    for key, name, _, _ in SETTING_ROWS:
        comps[key] = [compare(r, "icl", key, metric) for r in runs]
        chance = next((c.chance for c in comps[key] if c.chance is not None), None)
        rows.append([name] + _compare_cells([(c.base, c.tuned, c.delta, c.ci) for c in comps[key]], shared)
                    + [pct(chance)])
    for i, r in enumerate(runs):
        cs = [comps[k][i] for k, *_ in SETTING_ROWS]
        n_tasks = sorted({len(c.tasks) for c in cs if c.tasks})
        methods = sorted({c.method for c in cs if c.method})
        who = f"{r.label}: " if len(runs) > 1 else ""
        bits = []
        if n_tasks:
            bits.append(f"mean over {'/'.join(map(str, n_tasks))} tasks")
        if methods == ["clustered"]:
            sizes = ", ".join(f"{k} {c.n_paired}/{c.clusters}" for (k, *_), c in zip(SETTING_ROWS, cs) if c.n_paired)
            bits.append("Δ interval: paired cluster bootstrap over source items (a query's base and tuned answers "
                        "together; an utterance shared by several tasks counts once), hulled with a small-sample "
                        f"score guard; queries/clusters per setting: {sizes}")
        elif methods == ["unpaired"]:
            bits.append("Δ interval from a normal approximation of the per-task 95% CIs (no paired samples)")
        elif methods:
            bits.append("Δ interval paired where samples match, normal approximation elsewhere")
        if any(c.from_summary for c in cs):
            bits.append("some means from results.json summary (no per-task numbers)")
        if r.base is None:
            bits.append("no base evaluation")
        if r.tuned is None:
            bits.append("no tuned evaluation")
        for side, ev in (("base", r.base), ("tuned", r.tuned)):
            unq = ((ev.doc.get("notes") or {}).get("unqueried_classes") or {}) if ev is not None else {}
            for task, info in sorted(unq.items()) if isinstance(unq, dict) else []:
                if isinstance(info, dict) and isinstance(info.get("why"), dict):
                    bits.append(f"{side} evaluation: {unqueried_warning(task, info)}")
        dropped = sorted({t for c in cs for t in c.base_only + c.tuned_only})
        if dropped:
            bits.append(f"left out of Δ (evaluated on one side only): {', '.join(dropped)}")
        notes.append(who + "; ".join(bits) + ".")
    return Table(header, rows, "l" + "r" * (len(header) - 1)), notes


def other_suites_table(runs: list[Run], metric: str) -> Table | None:
    specs = [("flipped", "flipped", "Flipped labels"), ("algorithmic", "list_functions", "List Functions"),
             ("algorithmic", "simp_turing_concept", "Simple Turing Concepts")]
    cols, shared = _compare_header(runs)
    header = ["Suite"] + cols + ["Tasks", "Chance"]
    rows = []
    for suite, setting, name in specs:
        cs = [compare(r, suite, setting, metric) for r in runs]
        if not any(c.base is not None or c.tuned is not None for c in cs):
            continue
        n = max(len(c.tasks) for c in cs)
        chance = next((c.chance for c in cs if c.chance is not None), None)
        rows.append([name] + _compare_cells([(c.base, c.tuned, c.delta, c.ci) for c in cs], shared)
                    + [str(n) if n else DASH, pct(chance) if chance else DASH])
    return Table(header, rows, "l" + "r" * (len(header) - 1)) if rows else None


def per_task_table(runs: list[Run], suite: str, setting: str, metric: str) -> Table | None:
    tables = [per_task(r, suite, setting, metric) for r in runs]
    tasks: list[str] = []
    for t in tables:
        tasks += [k for k in t if k not in tasks]
    if not tasks:
        return None
    cols, shared = _compare_header(runs, with_ci=False)
    header = ["Task"] + cols + ["n", "Chance"]
    rows = []
    for task in tasks:
        es = [t.get(task, {}) for t in tables]
        n = next((e["n"] for e in es if e.get("n") is not None), None)
        chance = next((e["chance"] for e in es if e.get("chance") is not None), None)
        rows.append([task] + _compare_cells([(e.get("base"), e.get("tuned"), e.get("delta")) for e in es], shared)
                    + [str(n) if n is not None else DASH, pct(chance) if chance else DASH])
    cs = [compare(r, suite, setting, metric) for r in runs]
    rows.append(["**mean**"] + _compare_cells([(c.base, c.tuned, c.delta) for c in cs], shared) + ["", ""])
    return Table(header, rows)


def list_functions_table(runs: list[Run], metric: str) -> Table | None:
    cats_all: list[str] = []
    per_run = [categories(r, metric) for r in runs]
    for cats in per_run:
        cats_all += [c for c in cats if c not in cats_all]
    if not cats_all:
        return None
    cols, shared = _compare_header(runs, with_ci=False)
    header = ["Category"] + cols + ["Subtasks"]
    rows = []
    for cat in cats_all + [None]:
        cs = [compare(r, "algorithmic", "list_functions", metric, tasks=None if cat is None else cats.get(cat, []))
              for r, cats in zip(runs, per_run)]
        n = max(len(c.tasks) for c in cs)
        row = [cat or "**all**"] + _compare_cells([(c.base, c.tuned, c.delta) for c in cs], shared)
        if cat is not None:
            subs = sorted({t for cats in per_run for t in cats.get(cat, [])})
            row.append(f"{n}: {', '.join(subs)}")
        else:
            row.append(str(n))
        rows.append(row)
    return Table(header, rows, "l" + "r" * (len(header) - 2) + "l")
