"""The report's curve figures: accuracy against the flip proportion and against exemplars per class.

    from symtune.report.measure_plots import flip_curve, k_curve
    png = flip_curve(runs)     # PNG bytes, or None when no run has the flip_curve suite

Base dashed in grey (once when all runs share it), tuned in the run's colour; the dotted line is
chance. Values come from symtune.report.measures (samples files only).
"""

from __future__ import annotations

from matplotlib import rc_context
from matplotlib.figure import Figure

from symtune.report.analysis import same_base
from symtune.report.load import Run
from symtune.report.measures import flip_summary, k_summary
from symtune.report.plots import BASE_COLOR, COLORS, RC, _png, _title


def _sides(runs: list[Run], summaries: list):
    """(label, summary, color, linestyle) per line; the base once when every run shares it."""
    shared = len(runs) > 1 and same_base(runs)
    lines, base_done = [], False
    for i, (r, s) in enumerate(zip(runs, summaries)):
        if not s:
            continue
        color = COLORS[i % len(COLORS)]
        prefix = f"{r.label}: " if len(runs) > 1 else ""
        if "base" in s and not (shared and base_done):
            lines.append(("base (all runs)" if shared else f"{prefix}base", s["base"],
                          BASE_COLOR if shared or len(runs) == 1 else color, "--"))
            base_done = True
        if "tuned" in s:
            lines.append((f"{prefix}tuned", s["tuned"], color, "-"))
    return lines


def flip_curve(runs: list[Run], metric: str = "acc") -> bytes | None:
    """Accuracy (mean over binary tasks) against the proportion of exemplar labels flipped."""
    lines = _sides(runs, [flip_summary(r, metric) for r in runs])
    if not lines:
        return None
    with rc_context(RC):
        fig = Figure(figsize=(7.5, 4.6), layout="constrained")
        ax = fig.add_subplot()
        for name, s, color, ls in lines:
            pts = sorted((float(p), a) for p, a in (s.get("mean") or {}).items() if a is not None)
            slope = s.get("slope")
            label = name + (f" (slope {slope + 0.0:+.2f})" if slope is not None else "")  # no "-0.00"
            ax.plot([100 * p for p, _ in pts], [100 * a for _, a in pts], ls, marker="o", color=color, label=label)
        ax.axhline(50, color="#444444", linestyle=":", linewidth=1.2, label="chance (50%)")
        ax.set_xlabel("exemplar labels flipped (%), gold unchanged")
        ax.set_ylabel("accuracy (%), mean over binary tasks")
        ax.set_ylim(0, 100)
        _title(fig, "Flip curve: following the exemplars falls, ignoring them stays flat")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return _png(fig)


def k_curve(runs: list[Run], metric: str = "acc") -> bytes | None:
    """Accuracy (mean over tasks) against exemplars per class, natural labels and symbols side by side."""
    sums = [k_summary(r, metric) for r in runs]
    lines = _sides(runs, sums)
    settings = sorted({s for _, summ, *_ in lines for s in summ})
    if not lines or not settings:
        return None
    with rc_context(RC):
        fig = Figure(figsize=(4.2 * len(settings) + 1.0, 4.4), layout="constrained")
        axes = fig.subplots(1, len(settings), squeeze=False)[0]
        for ax, setting in zip(axes, settings):
            for name, summ, color, ls in lines:
                c = summ.get(setting)
                if not c:
                    continue
                ks = [k for k, a in zip(c["k"], c["mean"]) if a is not None]
                ax.plot(ks, [100 * a for a in c["mean"] if a is not None], ls, marker="o", color=color, label=name)
                ax.set_xscale("log", base=2)
                ax.set_xticks(c["k"], [str(k) for k in c["k"]])
            ax.set_title({"labels": "Natural labels", "symbols": "Symbols"}.get(setting, setting))
            ax.set_xlabel("exemplars per class (k)")
            ax.set_ylabel("accuracy (%), mean over tasks")
            ax.set_ylim(0, 100)
        fig.suptitle("Accuracy against exemplars per class", fontsize=RC["axes.titlesize"])
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return _png(fig)
