"""The recipe-search sweep table and its Pareto plot (issue 12), from run folders' samples.

    python scripts/sweep.py add families_mixed runs/families_mixed --note "int+letters+words, <=4 tokens"
    python scripts/sweep.py plot          # docs/images/pareto_dev.png (+ _gemma3-270m.png) from docs/results/sweep.json
    python scripts/sweep.py plot --split test   # docs/images/pareto_test.png: finalists and controls
    python scripts/sweep.py table         # the Markdown sweep table for docs/RESULTS.md
    python scripts/sweep.py vs runs/st runs/st_control   # tuned A - tuned B on the same queries (a control)
    python scripts/sweep.py rule i21_long_480 i21_long_480_s1 --control i21_long_480_natural \
        i21_long_480_natural_s1 --reference i21_nat50 i21_nat50_s1   # issue 21's finalist rule, per criterion

`add` reads RUN/eval_base and RUN/eval_tuned (samples files, no model) through the report's own
comparison (paired cluster-bootstrap intervals, src/symtune/report/analysis.py) and records, per ICL
setting and for flipped labels, base, tuned, delta and the 95% interval in docs/results/sweep.json (one
entry per arm, replaced when added again), with the split and the training minutes when known. The JSON
is committed, so later sessions extend the same table without the run folders; the arm's small files
(results.json, report, logs, plots; never weights or samples) are copied to docs/results/<arm>/.
Each entry records the model, dtype and device its evaluations ran in (one Pareto plot per model: each Δ
is against that model's own base), and `vs` refuses two runs that were not
evaluated alike (dtype, device, split, tasks, seeds, settings...): a bf16 arm against an fp32 control
would mix the dtype into the contrast (`--allow-mismatch` compares anyway and says so).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from symtune.report.contrast import mismatches  # `vs` is the contrast `symtune report A B` prints
from symtune.report.measures import DIAG_SETTINGS

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "docs" / "results" / "sweep.json"
IMAGES = ROOT / "docs" / "images"  # plots go to IMAGES/pareto_<split>[_<model>].png
SETTINGS = DIAG_SETTINGS  # the four ICL settings and flipped labels, as the report measures them


def _load() -> dict:
    return json.loads(SWEEP.read_text()) if SWEEP.is_file() else {}


def _save(d: dict) -> None:
    from symtune.provenance import write_json_atomic

    write_json_atomic(SWEEP, dict(sorted(d.items())))


def add(arm: str, run: str, note: str = "") -> dict:
    from symtune.report.analysis import compare
    from symtune.report.load import load_run
    from symtune.report.measures import split_of

    r = load_run(run)
    if r.base is None or r.tuned is None:
        sys.exit(f"{run}: needs eval_base and eval_tuned")
    entry: dict = {"run": run, "note": note, "split": split_of(r.tuned), "model": r.tuned.doc.get("model"),
                   "dtype": r.tuned.doc.get("dtype"), "device": r.tuned.doc.get("device"), "settings": {}}
    for suite, setting in SETTINGS:
        c = compare(r, suite, setting)
        if c.delta is None:
            continue
        entry["settings"][setting] = {
            "base": round(100 * c.base, 2), "tuned": round(100 * c.tuned, 2), "delta": round(100 * c.delta, 2),
            "ci": [round(100 * x, 2) for x in c.ci] if c.ci else None, "method": c.method,
            "n": c.n_paired, "clusters": c.clusters}
    train = Path(run) / "train" / "symtune_train.json"
    if train.is_file():
        t = json.loads(train.read_text())
        entry["steps"] = t.get("steps_done")
        tm = t.get("timings") or {}
        if t.get("resumed_from") and tm.get("s_per_step") and t.get("steps_done"):
            # a resumed run timed only its last part: scale its per-step time (probes included) to all steps
            entry["train_minutes"] = round(float(tm["s_per_step"]) * t["steps_done"] / 60, 1)
            entry["train_minutes_estimated"] = True
        elif tm.get("train_s"):
            entry["train_minutes"] = round(float(tm["train_s"]) / 60, 1)
        if t.get("peak_rss_mb"):
            entry["peak_rss_gb"] = round(t["peak_rss_mb"] / 1024, 1)
    d = _load()
    d[arm] = entry
    _save(d)
    _copy_small_files(Path(run), SWEEP.parent / _slug(arm))
    return entry


def vs(run_a: str, run_b: str, allow_mismatch: bool = False) -> dict:
    """Tuned A against tuned B, per setting, with the same paired cluster-bootstrap interval the report
    uses for tuned - base: does the symbol-tuned run beat its control on the same queries? Both runs must
    have scored the same prompts in the same dtype on the same device; otherwise this exits naming the
    first difference, or with allow_mismatch compares anyway and lists them under "mismatch"."""
    from symtune.report.contrast import contrast
    from symtune.report.load import load_run

    a, b = load_run(run_a), load_run(run_b)
    if a.tuned is None or b.tuned is None:
        sys.exit(f"{run_a if a.tuned is None else run_b}: needs eval_tuned")
    diff = mismatches(a.tuned.doc, b.tuned.doc)
    if diff and not allow_mismatch:
        sys.exit(f"sweep.py vs: {run_a} and {run_b} were not evaluated alike ({diff[0]}"
                 f"{f', and {len(diff) - 1} more' if len(diff) > 1 else ''}), so their difference is not "
                 "the tuning's alone; compare runs of one evaluation, dtype and device, or pass --allow-mismatch")
    out = {"mismatch": diff} if diff else {}
    for _suite, setting, c in contrast(a, b):
        out[setting] = {"a": round(100 * c.tuned, 2), "b": round(100 * c.base, 2), "delta": round(100 * c.delta, 2),
                        "ci": [round(100 * x, 2) for x in c.ci] if c.ci else None, "method": c.method}
    return out


SYMBOL_SETTINGS, NATURAL_SETTINGS = ("instr+symbols", "symbols"), ("instr+labels", "labels")
MARGIN, NATURAL_FLOOR = 3.0, -3.0  # issue 21: +3 over each comparison arm; natural-label Δ not below -3


def _steps(name: str, entry: dict) -> int | None:
    """Training steps of an entry: recorded by `add`, or for a checkpoint entry ARM@STEP its step."""
    if entry.get("steps") is not None:
        return int(entry["steps"])
    tail = name.rpartition("@")[2]
    return int(tail) if "@" in name and tail.isdigit() else None


def rule(arms: list[str], controls: list[str], references: list[str]) -> list[tuple[str, float, bool]]:
    """Issue 21's finalist rule on the committed dev entries, seed by seed (arms[i], controls[i] and
    references[i] share training seed i): the seed mean of the arm's Δ at least MARGIN over the reference
    recipe's and over the natural-labels control's (same steps) in both symbol settings, every seed's lead
    over the control >= 0 there, and every seed's natural-label Δ >= NATURAL_FLOOR. Differences are taken
    between Δs, each against its own base, so arms from sessions whose bf16 base differed slightly still
    compare. Returns (criterion, value, passed) rows; the arm is a finalist when every row passes."""
    d = _load()
    if not (len(arms) == len(controls) == len(references)):
        sys.exit("sweep.py rule: give one control and one reference per arm seed, in the same seed order")
    entries = {}
    for name in (*arms, *controls, *references):
        if name not in d:
            sys.exit(f"sweep.py rule: no arm '{name}' in {SWEEP}; add it first (sweep.py add {name} RUN)")
        if d[name].get("split") != "dev":
            sys.exit(f"sweep.py rule: '{name}' is a {d[name].get('split')} entry; arms are chosen on dev")
        entries[name] = d[name]["settings"]
    for group in (arms, controls, references):
        if len(set(group)) < len(group):
            sys.exit(f"sweep.py rule: {' '.join(group)} names one entry twice; give one run per training seed")
    for a, c in zip(arms, controls):
        if _steps(a, d[a]) != _steps(c, d[c]):
            sys.exit(f"sweep.py rule: '{a}' trained {_steps(a, d[a])} steps and its control '{c}' "
                     f"{_steps(c, d[c])}; the rule compares them at the same number of steps")

    def delta(name: str, setting: str) -> float:
        if setting not in entries[name]:
            sys.exit(f"sweep.py rule: '{name}' has no {setting} setting; the rule needs all four ICL settings")
        return entries[name][setting]["delta"]

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    rows = []
    for s in SYMBOL_SETTINGS:
        for label, others in (("reference", references), ("natural-labels control", controls)):
            lead = mean([delta(a, s) - delta(o, s) for a, o in zip(arms, others)])
            rows.append((f"{s}: seed-mean lead over the {label} >= +{MARGIN:g}", round(lead, 2), lead >= MARGIN))
        for i, (a, c) in enumerate(zip(arms, controls)):
            lead = delta(a, s) - delta(c, s)
            rows.append((f"{s}: seed {i} lead over the natural-labels control >= 0", round(lead, 2), lead >= 0))
    for s in NATURAL_SETTINGS:
        for i, a in enumerate(arms):
            rows.append((f"{s}: seed {i} Δ against the base >= {NATURAL_FLOOR:g}", delta(a, s), delta(a, s) >= NATURAL_FLOOR))
    return rows


def _slug(arm: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in arm).strip("_")


SMALL = {"run.json": "run.json", "eval_base/results.json": "results_base.json",
         "eval_tuned/results.json": "results_tuned.json", "report/report.md": "report.md",
         "train/symtune_train.json": "symtune_train.json", "train/log.jsonl": "log.jsonl",
         "train/loss.png": "loss_probe.png", "data/stats.json": "data_stats.json"}


def _copy_small_files(run: Path, dest: Path) -> None:
    """The arm's small result files (never weights or samples) into docs/results/<arm>/ for committing."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for src, name in SMALL.items():
        if (run / src).is_file():
            shutil.copy(run / src, dest / name)
    for png in (run / "report").glob("*.png"):
        shutil.copy(png, dest / png.name)


def _fmt(s: dict | None) -> str:
    if not s:
        return ""
    ci = f" [{s['ci'][0]:+.1f}, {s['ci'][1]:+.1f}]" if s.get("ci") else ""
    return f"{s['delta']:+.1f}{ci}"


def table() -> str:
    rows = ["| arm | split | model, dtype, device | labels Δ | symbols Δ | flipped Δ | steps | train min | note |",
            "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for arm, e in _load().items():
        s = e["settings"]
        est = " (est.)" if e.get("train_minutes_estimated") else ""
        rows.append(f"| {arm} | {e.get('split')} | {e.get('model', '?')}, {e.get('dtype', '?')}, {e.get('device', '?')} | "
                    f"{_fmt(s.get('labels'))} | {_fmt(s.get('symbols'))} | {_fmt(s.get('flipped'))} | "
                    f"{e.get('steps', '')} | {e.get('train_minutes', '')}{est} | {e.get('note', '')} |")
    return "\n".join(rows)


def _pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both axes (higher natural Δ and higher symbol Δ), by natural Δ."""
    return sorted(p for p in points if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in points))


def _place_labels(fig, ax, items: list[tuple[str, float, float]]) -> None:
    """Annotate each point at the first of a few offsets whose text box overlaps no earlier label."""
    fig.canvas.draw()  # fix the axes limits and layout first, so text boxes are measured where they will be
    renderer = fig.canvas.get_renderer()
    placed = []
    for name, x, y in items:
        for dx, dy in ((6, 4), (6, -12), (-6, 4), (-6, -12), (6, 14), (6, -22)):
            t = ax.annotate(name, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=9,
                            ha="left" if dx > 0 else "right")
            box = t.get_window_extent(renderer)
            if not any(box.overlaps(b) for b in placed):
                break
            t.remove()
        else:
            t = ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
            box = t.get_window_extent(renderer)
        placed.append(box)


def plot(split: str = "dev") -> list[Path]:
    """One Pareto plot per model: each Δ is against that model's own base, so arms of different models
    share no front. The default model's is pareto_<split>.png, another's pareto_<split>_<model>.png."""
    arms = {arm: e for arm, e in _load().items()
            if e.get("split") == split and "labels" in e["settings"] and "symbols" in e["settings"]}
    if not arms:
        sys.exit(f"{SWEEP}: no arm on the {split} split with labels and symbols; add one with `sweep.py add`")
    from symtune.models import DEFAULT_MODEL

    models = sorted({e.get("model") or DEFAULT_MODEL for e in arms.values()}, key=lambda m: (m != DEFAULT_MODEL, m))
    return [_plot_one({a: e for a, e in arms.items() if (e.get("model") or DEFAULT_MODEL) == m}, split, m)
            for m in models]


def _plot_one(arms: dict, split: str, model: str) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from symtune.models import DEFAULT_MODEL

    if len({(e.get("dtype"), e.get("device")) for e in arms.values()}) > 1:  # say which rows ran how
        arms = {f"{arm} ({e.get('dtype')}, {e.get('device')})": e for arm, e in arms.items()}
    pts = [(arm, e["settings"]["labels"], e["settings"]["symbols"]) for arm, e in arms.items()]
    fig = Figure(figsize=(7.5, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for arm, lab, sym in pts:
        xerr = [[lab["delta"] - lab["ci"][0]], [lab["ci"][1] - lab["delta"]]] if lab.get("ci") else None
        yerr = [[sym["delta"] - sym["ci"][0]], [sym["ci"][1] - sym["delta"]]] if sym.get("ci") else None
        ax.errorbar([lab["delta"]], [sym["delta"]], xerr=xerr, yerr=yerr, fmt="o", capsize=3, alpha=0.85)
    front = _pareto_front([(lab["delta"], sym["delta"]) for _, lab, sym in pts])
    if len(front) > 1:
        ax.plot(*zip(*front), color="#444", ls=":", lw=1.2, label="Pareto front (point estimates)")
    ax.axhline(0, color="#888", lw=0.8)
    ax.axvline(0, color="#888", lw=0.8)
    ax.axhline(10, color="#2ca02c", ls="--", lw=1, label="target: symbols Δ ≥ +10")
    ax.axvline(-1, color="#d62728", ls="--", lw=1, label="target: labels Δ ≥ −1")
    ax.set_xlabel("natural labels Δ (points, tuned − base)")
    ax.set_ylabel("symbols Δ (points, tuned − base)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle(f"Recipe search on the {split} evaluation, {model}\n"
                 "symbol gain against natural-label change (95% CI)")
    _place_labels(fig, ax, [(arm, lab["delta"], sym["delta"]) for arm, lab, sym in pts])
    out = IMAGES / (f"pareto_{split}.png" if model == DEFAULT_MODEL else f"pareto_{split}_{_slug(model)}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, metadata={"Software": None})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add")
    a.add_argument("arm")
    a.add_argument("run")
    a.add_argument("--note", default="")
    sub.add_parser("table")
    v = sub.add_parser("vs")
    v.add_argument("run_a")
    v.add_argument("run_b")
    v.add_argument("--allow-mismatch", action="store_true",
                   help="compare runs evaluated differently (dtype, device, split, ...) anyway; the output lists how")
    r = sub.add_parser("rule", help="issue 21's finalist rule from the committed dev entries")
    r.add_argument("arms", nargs="+", help="the arm's sweep entries, one per training seed (seed 0 first)")
    r.add_argument("--control", nargs="+", required=True, help="its natural-labels control, same steps, same seed order")
    r.add_argument("--reference", nargs="+", required=True, help="the recipe to beat (nat50_ce), same seed order")
    pl = sub.add_parser("plot")
    pl.add_argument("--split", default="dev")
    args = p.parse_args()
    if args.cmd == "add":
        print(json.dumps(add(args.arm, args.run, args.note), indent=1))
    elif args.cmd == "vs":
        out = vs(args.run_a, args.run_b, args.allow_mismatch)
        for line in out.pop("mismatch", []):
            print(f"NOT ALIKE (--allow-mismatch): {line}")
        for setting, e in out.items():
            print(f"{setting:20s} A {e['a']:5.1f}  B {e['b']:5.1f}  A-B {_fmt(e)}  ({e['method']})")
    elif args.cmd == "table":
        print(table())
    elif args.cmd == "rule":
        rows = rule(args.arms, args.control, args.reference)
        for name, value, ok in rows:
            print(f"{'pass' if ok else 'FAIL'}  {value:+6.1f}  {name}")
        if not all(ok for _, _, ok in rows):
            print(f"finalist: no ({len(args.arms)} seed(s))")
        elif len(args.arms) < 2:
            print("finalist: not yet (passes on one seed; the rule needs two)")
        else:
            print(f"finalist: yes ({len(args.arms)} seeds)")
    else:
        for out in plot(args.split):
            print(out)


if __name__ == "__main__":
    from symtune.errors import script_main

    sys.exit(script_main(main))
