"""The report's "Measurements" section as blocks: clustered paired intervals (n next to clusters),
the ICL diagnostics table, the permutation control, the flip curve and the exemplars-per-class curve.

    from symtune.report.measure_blocks import measurement_blocks
    blocks = measurement_blocks(runs, "acc")     # appended to the report by render.document

Numbers from symtune.report.measures, figures from symtune.report.measure_plots; the block classes
are the report's own (imported when called, as render imports this module).
"""

from __future__ import annotations

from symtune.report import measure_plots
from symtune.report.fmt import DASH, SHORT_NAMES, interval, num, pct, signed
from symtune.report.load import Run
from symtune.report.measures import (DIAG_SETTINGS, diagnostics_summary, flip_summary, intervals, k_summary,
                                     perm_summary, split_of)

def _who(runs: list[Run], r: Run) -> str:
    return f" — {r.label}" if len(runs) > 1 else ""


def _split_para(runs: list[Run]):
    from symtune.report.blocks import Para

    bits = []
    for r in runs:
        splits = sorted({s for s in (split_of(r.base), split_of(r.tuned)) if s})
        if splits:
            bits.append((f"`{r.label}`: " if len(runs) > 1 else "") + "/".join(splits))
    if not bits:
        return None
    text = "Evaluation split: " + "; ".join(bits) + "."
    if any("dev" in b for b in bits):
        text += (" **dev** numbers are for choosing recipes (queries from the exemplar split, never a test "
                 "query); the test split is run once per finalist and is what a claim should cite.")
    return Para(text)


def _intervals_blocks(runs: list[Run], metric: str) -> list:
    from symtune.report.blocks import Heading, Para, Table

    out: list = [Heading(3, "Paired intervals, clustered by source item")]
    out.append(Para("Δ = tuned − base, mean over tasks. The 95% interval is a paired cluster bootstrap over source "
                    "items (2,000 replicates, fixed seed): a query's base and tuned answers stay together, and an "
                    "utterance that several tasks share (snips_weather_music ⊂ snips_3way ⊂ snips_7way; the BBC "
                    "tasks) counts once. It is hulled with a score-interval guard so that a few identical answers "
                    "never print as certainty. `n` = queries, `clusters` = distinct source items, `n_eff` = Kish "
                    "effective number of clusters; the naive interval treats every query as independent."))
    any_rows = False
    for r in runs:
        rows = []
        for e in intervals(r, metric):
            iv, naive = e["iv"], e["naive"]
            rows.append([SHORT_NAMES.get(e["setting"], e["setting"]), pct(iv.base), pct(iv.tuned), signed(iv.delta),
                         interval(iv.ci), str(iv.n), str(iv.clusters), f"{iv.n_eff:.0f}", interval(naive.ci)])
        if rows:
            any_rows = True
            if len(runs) > 1:
                out.append(Para(f"`{r.label}`:"))
            out.append(Table(["Setting", "base", "tuned", "Δ", "95% CI (clustered)", "n", "clusters", "n_eff",
                              "naive CI"], rows, "lrrrrrrrr"))
    if not any_rows:
        out.append(Para("No paired samples (base and tuned samples files with the same prompts) to cluster."))
    return out


def _fam(d: dict, fam: str, key: str) -> str:
    f = (d.get("by_family") or {}).get(fam)
    return pct(f.get(key)) if f else DASH


def _diag_blocks(runs: list[Run], metric: str) -> list:
    from symtune.report.blocks import Details, Heading, Para, Table

    out: list = [Heading(3, "Diagnostics")]
    out.append(Para("From the samples, per setting, base and tuned. Accuracy, majority share (most frequent "
                    "prediction) and copy-last (prediction = the label the last exemplar showed; in brackets how "
                    "often the gold equals it) are means over tasks. Pooled over the tasks' queries: accuracy by "
                    "the gold symbol's family, the share of predictions of each family (in brackets the share of "
                    "options of it: a larger prediction share = a preference for that family), accuracy when the "
                    "options have equal vs unequal token lengths, and how often a shortest option is predicted "
                    "among unequal ones (in brackets: a random pick)."))
    header = ["Setting", "side", "acc", "majority", "copy last (gold)", "acc int", "acc letters", "acc word",
              "pred int (opt)", "pred letters (opt)", "pred word (opt)", "acc equal len", "acc unequal len",
              "shortest picked (random)"]
    any_rows = False
    for r in runs:
        rows, task_rows = [], []
        sums = {side: diagnostics_summary(ev, metric) for side, ev in (("base", r.base), ("tuned", r.tuned))}
        for suite, setting in DIAG_SETTINGS:
            for side in ("base", "tuned"):
                s = sums[side].get((suite, setting))
                if not s:
                    continue
                m, p = s["mean"], s["pooled"]
                ln = p.get("by_length") or {}
                eq, un = ln.get("equal") or {}, ln.get("unequal") or {}
                fams = p.get("by_family")
                rows.append([SHORT_NAMES.get(setting, setting), side, pct(m["acc"]), pct(m["majority_share"]),
                             f"{pct(m['copy_last'])} ({pct(m['copy_last_gold'])})"]
                            + ([_fam(p, f, "acc") for f in ("int", "letters", "word")] if fams else [DASH] * 3)
                            + ([f"{_fam(p, f, 'pred_share')} ({_fam(p, f, 'option_share')})"
                                for f in ("int", "letters", "word")] if fams else [DASH] * 3)
                            + [pct(eq.get("acc")) + (f" (n {eq['n']})" if eq.get("n") else ""),
                               pct(un.get("acc")) + (f" (n {un['n']})" if un.get("n") else ""),
                               f"{pct(un.get('pred_shortest'))} ({pct(un.get('shortest_share'))})"
                               if un.get("n") else DASH])
                for task, d in s["tasks"].items():
                    task_rows.append([task, SHORT_NAMES.get(setting, setting), side, str(d["n"]), pct(d["acc"]),
                                      pct(d["majority_share"]), pct(d.get("copy_last")),
                                      pct(d.get("copy_last_gold"))]
                                     + [f"{_fam(d, f, 'acc')} / {_fam(d, f, 'pred_share')}"
                                        for f in ("int", "letters", "word")])
        if rows:
            any_rows = True
            if len(runs) > 1:
                out.append(Para(f"`{r.label}`:"))
            out.append(Table(header, rows, "ll" + "r" * (len(header) - 2)))
            out.append(Details("Diagnostics per task" + _who(runs, r), [Table(
                ["Task", "Setting", "side", "n", "acc", "majority", "copy last", "gold = last", "int acc / pred",
                 "letters acc / pred", "word acc / pred"], task_rows, "lll" + "r" * 8)]))
    if not any_rows:
        out.append(Para("No samples files to compute diagnostics from."))
    return out


def _perm_blocks(runs: list[Run], metric: str) -> list:
    from symtune.report.blocks import Heading, Para, Table

    out: list = [Heading(3, "Symbol-permutation control")]
    sums = [perm_summary(r, metric) for r in runs]
    if not any(sums):
        out.append(Para("Not run: opt-in `--permutation-control` (`--eval.permutation_control` in a run config); it "
                        "scores every symbol-setting query again with the class→symbol assignment permuted "
                        "(binary: swapped), one extra prompt per symbol-setting query."))
        return out
    out.append(Para("The symbol-setting queries scored again with the class→symbol assignment permuted (binary: "
                    "swapped). A model that learned the mapping keeps its accuracy (same class predicted); one that "
                    "reads only the symbols' own meaning picks the same symbol again, so on binary tasks its "
                    "balanced accuracy (mean of original and permuted) is chance. Task means; Δ of the balanced "
                    "accuracy with its clustered paired interval."))
    for r, s in zip(runs, sums):
        rows = []
        for setting, e in s.items():
            for side in ("base", "tuned"):
                if side in e:
                    m = e[side]
                    rows.append([SHORT_NAMES.get(setting, setting), side, str(m["n"]), pct(m["acc_original"]),
                                 pct(m["acc_permuted"]), pct(m["acc_balanced"]), pct(m["same_class"]),
                                 pct(m["same_symbol"]), DASH, DASH])
            if e.get("delta_balanced"):
                iv, _ = e["delta_balanced"]
                rows.append([SHORT_NAMES.get(setting, setting), "Δ balanced", str(iv.n), "", "", signed(iv.delta), "", "",
                             interval(iv.ci), str(iv.clusters)])
        if rows:
            if len(runs) > 1:
                out.append(Para(f"`{r.label}`:"))
            out.append(Table(["Setting", "side", "n", "original", "permuted", "balanced", "same class", "same symbol",
                              "95% CI (clustered)", "clusters"], rows, "ll" + "r" * 8))
    return out


def _flip_blocks(runs: list[Run], metric: str) -> list:
    from symtune.report.blocks import Heading, Image, Para, Table

    out: list = [Heading(3, "Flip curve")]
    sums = [flip_summary(r, metric) for r in runs]
    if not any(sums):
        out.append(Para("Not run: opt-in suite `flip_curve` (`--extra-suites flip_curve`): binary tasks, 0–100% of "
                        "the exemplar labels flipped, gold unchanged; five prompts per query."))
        return out
    out.append(Para("Binary tasks, natural labels, a nested proportion of the exemplar labels flipped, gold unchanged. "
                    "A model that follows the exemplars falls steeply (slope ≈ −1 per unit proportion), one that "
                    "ignores them stays flat (0). Natural = accuracy at 0%; flipped (paper) = 100% − accuracy at "
                    "100% flipped, the paper's protocol on the same prompts, so both sit on the same queries."))
    png = measure_plots.flip_curve(runs, metric)
    if png:
        out.append(Image("flip_curve.png", "Accuracy against the proportion of flipped exemplar labels", png))
    for r, s in zip(runs, sums):
        if not s:
            continue
        if len(runs) > 1:
            out.append(Para(f"`{r.label}`:"))
        props = sorted({k for side in ("base", "tuned") for k in ((s.get(side) or {}).get("mean") or {})}, key=float)
        rows = []
        for p in props:
            b = ((s.get("base") or {}).get("mean") or {}).get(p)
            t = ((s.get("tuned") or {}).get("mean") or {}).get(p)
            rows.append([f"{100 * float(p):.0f}%", pct(b), pct(t), signed(t - b) if b is not None and t is not None
                         else DASH])
        out.append(Table(["flipped", "base", "tuned", "Δ"], rows, "lrrr"))
        summ = []
        for what, name, unit in (("slope", "slope (accuracy per unit flipped)", 1.0),
                                 ("natural", "natural labels (0% flipped)", 100.0),
                                 ("flipped_paper", "flipped, paper protocol (100% − acc at 100%)", 100.0)):
            b, t = (s.get("base") or {}).get(what), (s.get("tuned") or {}).get(what)
            d = s.get("delta", {}).get(what)
            fmt = "{:+.2f}" if unit == 1.0 else "{:.1f}"
            dfmt = "{:+.2f}" if unit == 1.0 else "{:+.1f}"
            ci = DASH
            if d:
                lo, hi = d[0].ci
                ci = f"[{dfmt.format(lo * unit)}, {dfmt.format(hi * unit)}]"
            summ.append([name, num(b, unit, fmt), num(t, unit, fmt),
                         num(t - b, unit, dfmt) if b is not None and t is not None else DASH, ci,
                         str(d[0].n) if d else DASH, str(d[0].clusters) if d else DASH])
        out.append(Table(["measure", "base", "tuned", "Δ", "95% CI (clustered)", "n", "clusters"], summ, "lrrrrrr"))
    return out


def _k_blocks(runs: list[Run], metric: str) -> list:
    from symtune.report.blocks import Heading, Image, Para, Table

    out: list = [Heading(3, "Exemplars per class")]
    sums = [k_summary(r, metric) for r in runs]
    if not any(sums):
        out.append(Para("Not run: opt-in suite `k_curve` (`--extra-suites k_curve`): `labels` and `symbols` at "
                        "k = 1, 2, 4, 8 exemplars per class (nested draws); 8 prompts per query."))
        return out
    out.append(Para("Accuracy (mean over tasks) at k exemplars per class, natural labels and symbols, no instruction; "
                    "the k prompts of a query share template, symbols and the first k exemplars of one draw."))
    png = measure_plots.k_curve(runs, metric)
    if png:
        out.append(Image("k_curve.png", "Accuracy against exemplars per class", png))
    for r, s in zip(runs, sums):
        if not s:
            continue
        if len(runs) > 1:
            out.append(Para(f"`{r.label}`:"))
        settings = sorted({st for side in s.values() for st in side})
        ks = sorted({k for side in s.values() for c in side.values() for k in c["k"]})
        header = ["k"] + [f"{SHORT_NAMES.get(st, st)}: {side}" for st in settings for side in ("base", "tuned", "Δ")]
        rows = []
        for k in ks:
            row = [str(k)]
            for st in settings:
                vals = []
                for side in ("base", "tuned"):
                    c = (s.get(side) or {}).get(st)
                    vals.append(c["mean"][c["k"].index(k)] if c and k in c["k"] else None)
                row += [pct(vals[0]), pct(vals[1]),
                        signed(vals[1] - vals[0]) if None not in vals else DASH]
            rows.append(row)
        out.append(Table(header, rows, "l" + "r" * (len(header) - 1)))
    return out


def measurement_blocks(runs: list[Run], metric: str = "acc") -> list:
    """Heading, split note, intervals, diagnostics, permutation control, flip curve, k curve."""
    from symtune.report.blocks import Heading

    out: list = [Heading(2, "Measurements: intervals, diagnostics, controls, curves")]
    para = _split_para(runs)
    if para:
        out.append(para)
    out += _intervals_blocks(runs, metric)
    out += _diag_blocks(runs, metric)
    out += _perm_blocks(runs, metric)
    out += _flip_blocks(runs, metric)
    out += _k_blocks(runs, metric)
    return out
