"""The report's figures (matplotlib, Agg canvas; no pyplot state, no display needed).

Every function takes loaded runs and returns PNG bytes, or None when there is nothing to draw.
Accuracies are drawn in percent; error bars are 95% intervals (1.96 standard errors); the dashed line
is chance (mean of 1/#classes over the tasks shown).
"""

from __future__ import annotations

import io
import math

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from symtune.report.analysis import Z95, categories, compare, per_task, same_base
from symtune.report.load import ICL_SETTINGS, Run

DPI = 120
RC = {
    "font.size": 11, "axes.titlesize": 13, "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
    "legend.fontsize": 9.5, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.3, "axes.axisbelow": True,
}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
BASE_COLOR = "#a6a6a6"
SETTING_NAMES = {"instr+labels": "Instr + labels", "labels": "Labels only", "instr+symbols": "Instr + symbols",
                 "symbols": "Symbols only"}


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _series(runs: list[Run]):
    """(name, run, side, color, hatch) per bar series: the base once when all runs share it."""
    shared = len(runs) > 1 and same_base(runs)
    out = []
    if shared:
        out.append(("base (all runs)", runs[0], "base", BASE_COLOR, ""))
    for i, r in enumerate(runs):
        color = COLORS[i % len(COLORS)]
        prefix = f"{r.label}: " if len(runs) > 1 else ""
        if r.base is not None and not shared:
            out.append((f"{prefix}base", r, "base", _tint(color) if len(runs) > 1 else BASE_COLOR,
                        "//" if len(runs) > 1 else ""))
        if r.tuned is not None:
            out.append((f"{prefix}tuned", r, "tuned", color, ""))
    return out


def _tint(hex_color: str, amount: float = 0.55) -> str:
    h = hex_color.lstrip("#")
    rgb = [int(h[i:i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)


def _bars(ax, groups: list[str], series: list[tuple[str, list, list, str, str]], chance: float | None,
          value_labels: bool = False, chance_label: str = "chance"):
    """Grouped bars: series = (legend name, values in [0,1] or None, errors, color, hatch).

    An error is a 95% half-width, a (low, high) interval, or None (no bar drawn).
    """
    n = max(1, len(series))
    width = min(0.8 / n, 0.35)
    top = 0.0
    for j, (name, vals, errs, color, hatch) in enumerate(series):
        xs = [i + (j - (n - 1) / 2) * width for i in range(len(groups))]
        ys = [100 * v if v is not None else math.nan for v in vals]
        down, up = [], []
        for e, v in zip(errs, vals):
            if e is None or v is None:
                down.append(0.0)
                up.append(0.0)
            elif isinstance(e, (tuple, list)):
                down.append(max(0.0, 100 * (v - e[0])))
                up.append(max(0.0, 100 * (e[1] - v)))
            else:
                down.append(min(100 * e, 100 * v))
                up.append(100 * e)
        ax.bar(xs, ys, width * 0.92, label=name, color=color, hatch=hatch, edgecolor="white" if not hatch else "#555555",
               linewidth=0.6, yerr=[down, up], capsize=3 if len(groups) * n <= 40 else 0,
               error_kw={"elinewidth": 1.0, "ecolor": "#333333"})
        for x, y, e in zip(xs, ys, up):
            if not math.isnan(y):
                top = max(top, y + e)
                if value_labels:
                    ax.text(x, y + e + 1.0, f"{y:.1f}", ha="center", va="bottom", fontsize=8.5, color="#222222")
                elif y == 0:  # an empty bar is invisible: say it is zero
                    ax.text(x, 0.4, "0", ha="center", va="bottom", fontsize=8.5, color="#222222",
                            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6}, zorder=4)
    if chance is not None and chance > 0:
        ax.axhline(100 * chance, color="#444444", linestyle="--", linewidth=1.2,
                   label=f"{chance_label} ({100 * chance:.1f}%)", zorder=3)
        top = max(top, 100 * chance)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylim(0, min(105, max(10, top * 1.15 + (6 if value_labels else 2))))
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.grid(axis="x", visible=False)


def _legend(ax, fig, n_items: int, outside: bool = False):
    """Outside the axes, right of them: inside it collided with value labels and tall bars."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _title(fig, text: str) -> None:
    """A figure-level title: constrained layout keeps it inside the figure however long it is
    (an axes title is centred on the axes and was cut off at the left when wider than them)."""
    fig.suptitle(text, fontsize=RC["axes.titlesize"])


def icl_settings(runs: list[Run], metric: str = "acc") -> bytes | None:
    """Grouped bars: the four ICL settings, base vs tuned per run, 95% error bars, chance line."""
    series, chances = [], []
    for name, run, side, color, hatch in _series(runs):
        vals, errs = [], []
        for s in ICL_SETTINGS:
            c = compare(run, "icl", s, metric)
            v, se = (c.base, c.base_se) if side == "base" else (c.tuned, c.tuned_se)
            vals.append(v)
            errs.append(Z95 * se if se is not None else None)
            if c.chance is not None:
                chances.append(c.chance)
        series.append((name, vals, errs, color, hatch))
    shown = [i for i in range(len(ICL_SETTINGS)) if any(vals[i] is not None for _, vals, *_ in series)]
    if not shown:
        return None
    series = [(n, [v[i] for i in shown], [e[i] for i in shown], c, h) for n, v, e, c, h in series]
    chance = sum(chances) / len(chances) if chances else None
    with rc_context(RC):
        fig = Figure(figsize=(max(7.5, 2.0 + 1.1 * len(series) * 1.2), 4.6), layout="constrained")
        ax = fig.add_subplot()
        _bars(ax, [SETTING_NAMES[ICL_SETTINGS[i]] for i in shown], series, chance, value_labels=len(series) <= 4)
        ax.set_ylabel("accuracy (%), mean over tasks")
        ax.set_xlabel("in-context learning setting")
        _title(fig, "ICL accuracy by setting, base vs tuned (error bars: 95% CI)")
        _legend(ax, fig, len(series) + 1)
        return _png(fig)


def _task_bars(runs, suite, setting, metric, title, xlabel, order=None, groups_fn=None, chance_default=None):
    series, chances, tasks = [], [], []
    tables = []
    for name, run, side, color, hatch in _series(runs):
        table = per_task(run, suite, setting, metric)
        tables.append(table)
        for t in table:
            if t not in tasks:
                tasks.append(t)
        series.append((name, table, side, color, hatch))
    if not tasks:
        return None
    if order:
        tasks = [t for t in order if t in tasks] + [t for t in tasks if t not in order]
    bars = []
    for name, table, side, color, hatch in series:
        vals = [table.get(t, {}).get(side) for t in tasks]
        errs = [table[t].get(side + "_ci") if t in table else None for t in tasks]
        bars.append((name, vals, errs, color, hatch))
        chances += [table[t]["chance"] for t in tasks if t in table and table[t]["chance"] is not None]
    chance = sum(chances) / len(chances) if chances else chance_default
    return tasks, bars, chance


def flipped(runs: list[Run], metric: str = "acc") -> bytes | None:
    """Flipped labels: per task, base vs tuned, 95% error bars, chance line."""
    got = _task_bars(runs, "flipped", "flipped", metric, "", "")
    if got is None:
        return None
    tasks, bars, chance = got
    with rc_context(RC):
        fig = Figure(figsize=(max(7.5, 1.5 + 0.55 * len(tasks) * max(2, len(bars))), 4.8), layout="constrained")
        ax = fig.add_subplot()
        _bars(ax, tasks, bars, chance)
        ax.set_ylabel("accuracy (%) on flipped labels")
        ax.set_xlabel("evaluation task (binary)")
        _title(fig, "Flipped labels: above chance = the model follows the in-context labels")
        _rotate(ax, tasks, fig)
        _legend(ax, fig, len(bars) + 1, outside=True)
        return _png(fig)


def _rotate(ax, labels, fig):
    """Slant the tick labels when the longest would not fit in its group's width."""
    per_group = 0.8 * fig.get_figwidth() / max(1, len(labels))  # inches, roughly (axes ~80% of the figure)
    longest = max((len(str(t)) for t in labels), default=0) * 0.085  # inches at 10 pt
    if longest > 0.9 * per_group:
        for lab in ax.get_xticklabels():
            lab.set_rotation(30)
            lab.set_ha("right")
            lab.set_rotation_mode("anchor")


def list_functions(runs: list[Run], metric: str = "acc") -> bytes | None:
    """List Functions: accuracy per category (mean over its subtasks) and over all subtasks."""
    series = []
    cats_all: list[str] = []
    for r in runs:
        for cat in categories(r, metric):
            if cat not in cats_all:
                cats_all.append(cat)
    if not cats_all:
        return None
    groups = [f"{c}" for c in cats_all] + ["all"]
    for name, run, side, color, hatch in _series(runs):
        cats = categories(run, metric)
        vals, errs = [], []
        for cat in cats_all:
            c = compare(run, "algorithmic", "list_functions", metric, tasks=cats.get(cat, []))
            v, se = (c.base, c.base_se) if side == "base" else (c.tuned, c.tuned_se)
            vals.append(v)
            errs.append(Z95 * se if se is not None else None)
        c = compare(run, "algorithmic", "list_functions", metric)
        v, se = (c.base, c.base_se) if side == "base" else (c.tuned, c.tuned_se)
        vals.append(v)
        errs.append(Z95 * se if se is not None else None)
        series.append((name, vals, errs, color, hatch))
    with rc_context(RC):
        fig = Figure(figsize=(max(8.5, 2.0 + len(groups) * (0.7 + 0.3 * len(series))), 4.8), layout="constrained")
        ax = fig.add_subplot()
        _bars(ax, [_wrap(g) for g in groups], series, None, value_labels=len(series) * len(groups) <= 14)
        ax.axvline(len(groups) - 1.5, color="#999999", linewidth=0.8)
        ax.set_ylabel("exact-match accuracy (%)")
        ax.set_xlabel("List Functions category (mean over its subtasks)")
        _title(fig, "List Functions (BIG-Bench), base vs tuned")
        _legend(ax, fig, len(series), outside=True)
        return _png(fig)


def _wrap(text: str, width: int = 11) -> str:
    """Break a tick label at spaces, hyphens and underscores (category names are snake_case)."""
    words, lines, cur = str(text).replace("-", "- ").replace("_", "_ ").split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur}{'' if cur.endswith(('-', '_')) else ' '}{w}".strip()
    lines.append(cur)
    return "\n".join(lines)


def turing_concepts(runs: list[Run], metric: str = "acc") -> bytes | None:
    """Simple Turing Concepts: accuracy per concept and the mean over concepts."""
    got = _task_bars(runs, "algorithmic", "simp_turing_concept", metric, "", "")
    if got is None:
        return None
    tasks, bars, _ = got
    groups = tasks + ["all"]
    full = []
    for (name, vals, errs, color, hatch), (_, run, side, _, _) in zip(bars, _series(runs)):
        c = compare(run, "algorithmic", "simp_turing_concept", metric)
        v, se = (c.base, c.base_se) if side == "base" else (c.tuned, c.tuned_se)
        full.append((name, vals + [v], errs + [Z95 * se if se is not None else None], color, hatch))
    with rc_context(RC):
        fig = Figure(figsize=(min(16, max(7.5, 1.5 + 0.45 * len(groups) * max(2, len(full)))), 4.8), layout="constrained")
        ax = fig.add_subplot()
        _bars(ax, groups, full, None)
        ax.axvline(len(groups) - 1.5, color="#999999", linewidth=0.8)
        ax.set_ylabel("exact-match accuracy (%)")
        ax.set_xlabel("concept")
        _title(fig, "Simple Turing Concepts (BIG-Bench), base vs tuned")
        _rotate(ax, groups, fig)
        _legend(ax, fig, len(full), outside=True)
        return _png(fig)


def _ema(values: list[float], alpha: float) -> list[float]:
    out, acc = [], None
    for v in values:
        acc = v if acc is None else alpha * v + (1 - alpha) * acc
        out.append(acc)
    return out


def loss_curve(runs: list[Run]) -> bytes | None:
    """Training loss per optimizer step (raw, faint; smoothed, solid) and the learning rate below."""
    curves = []
    for i, r in enumerate(runs):
        rows = [x for x in r.train_log if isinstance(x.get("loss"), (int, float)) and isinstance(x.get("step"), (int, float))]
        if rows:
            rows.sort(key=lambda x: x["step"])
            curves.append((r, rows, COLORS[i % len(COLORS)]))
    if not curves:
        return None
    has_lr = any(isinstance(x.get("lr"), (int, float)) for _, rows, _ in curves for x in rows)
    with rc_context(RC):
        fig = Figure(figsize=(8, 5.2 if has_lr else 4.2), layout="constrained")
        if has_lr:
            gs = fig.add_gridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
            ax = fig.add_subplot(gs[0])
            ax_lr = fig.add_subplot(gs[1], sharex=ax)
        else:
            ax, ax_lr = fig.add_subplot(), None
        for r, rows, color in curves:
            steps = [x["step"] for x in rows]
            loss = [float(x["loss"]) for x in rows]
            prefix = f"{r.label}: " if len(curves) > 1 else ""
            alpha = min(1.0, 2.0 / (1 + max(1, len(loss) / 20)))
            ax.plot(steps, loss, color=color, alpha=0.25, linewidth=0.9, label=f"{prefix}loss (raw)")
            if len(loss) >= 10:
                ax.plot(steps, _ema(loss, alpha), color=color, linewidth=2.0, label=f"{prefix}loss (EMA)")
            ev = [(x["step"], float(x["eval_loss"])) for x in r.train_log
                  if isinstance(x.get("eval_loss"), (int, float)) and isinstance(x.get("step"), (int, float))]
            if ev:
                ax.plot([s for s, _ in ev], [v for _, v in ev], "o--", color=color, markersize=5, linewidth=1.0,
                        markeredgecolor="black", markeredgewidth=0.6, label=f"{prefix}held-out loss")
            if ax_lr is not None:
                lr = [(x["step"], float(x["lr"])) for x in rows if isinstance(x.get("lr"), (int, float))]
                if lr:
                    ax_lr.plot([s for s, _ in lr], [v for _, v in lr], color=color, linewidth=1.5)
        ax.set_ylabel("training loss (nats / token)")
        _title(fig, "Training loss" + (" per run" if len(curves) > 1 else ""))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        if ax_lr is not None:
            ax_lr.set_ylabel("learning rate")
            ax_lr.set_xlabel("optimizer step")
            ax_lr.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 0 else f"{v:.1e}"))
            ax_lr.yaxis.set_major_locator(MaxNLocator(3))
            for lab in ax.get_xticklabels():
                lab.set_visible(False)
        else:
            ax.set_xlabel("optimizer step")
        fig.align_ylabels()
        return _png(fig)


def exemplar_histogram(runs: list[Run]) -> bytes | None:
    """Tuning data: number of prompts per in-context exemplars-per-class."""
    hists = []
    for i, r in enumerate(runs):
        h = (r.data_stats or {}).get("exemplars_per_class")
        if isinstance(h, dict) and h:
            try:
                items = sorted((int(k), float(v)) for k, v in h.items())
            except (TypeError, ValueError):
                continue
            hists.append((r, items, COLORS[i % len(COLORS)]))
    if not hists:
        return None
    keys = sorted({k for _, items, _ in hists for k, _ in items})
    with rc_context(RC):
        fig = Figure(figsize=(7, 3.8), layout="constrained")
        ax = fig.add_subplot()
        n = len(hists)
        width = 0.8 / n
        for j, (r, items, color) in enumerate(hists):
            d = dict(items)
            ax.bar([k + (j - (n - 1) / 2) * width for k in keys], [d.get(k, 0) for k in keys], width * 0.92,
                   color=color, label=r.label)
        ax.set_xticks(keys)
        ax.set_xlabel("in-context exemplars per class")
        ax.set_ylabel("tuning prompts (count)")
        _title(fig, "Tuning data: exemplars per class")
        ax.grid(axis="x", visible=False)
        if n > 1:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return _png(fig)


__all__ = ["icl_settings", "flipped", "list_functions", "turing_concepts", "loss_curve", "exemplar_histogram"]
