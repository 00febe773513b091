"""The report's sections, as blocks: Table 1, other suites, per task, training, data, provenance.

`document(runs)` builds the whole report (the measurement sections come from measure_blocks.py);
blocks.py defines the blocks, markdown.py and page.py render them (`to_markdown`, `to_html`, re-exported
here with `images` and `table_markdown` for callers).
"""

from __future__ import annotations

from symtune.report import plots
from symtune.report.analysis import Comparison, categories, compare, per_task, same_base, train_summary
from symtune.report.blocks import Bullets, Details, Heading, Image, Para, Table, images
from symtune.report.load import Run
from symtune.report.markdown import table_markdown, to_markdown
from symtune.report.page import to_html

SETTING_ROWS = [  # (setting key, Table-1 row name, instruction, relevant labels)
    ("instr+labels", "Instr + labels", "yes", "yes"),
    ("labels", "Labels only", "no", "yes"),
    ("instr+symbols", "Instr + symbols", "yes", "no (symbols)"),
    ("symbols", "Symbols only (neither)", "no", "no (symbols)"),
]
DASH = "–"


# ---------------------------------------------------------------- formatting helpers
def pct(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:.1f}"


def signed(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:+.1f}"


def interval(ci) -> str:
    return DASH if ci is None else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def _flat(d, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out += _flat(v, key)
            else:
                out.append((key, _value(v)))
    return out


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v) if v else "[]"
    if v is None:
        return "null"
    return str(v)


def _duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return str(seconds)
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d} min"


# ---------------------------------------------------------------- sections
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
        elif methods == ["paired"]:
            n = max(c.n_paired for c in cs)
            bits.append(f"Δ interval paired over queries (same prompt_hash in base and tuned samples, "
                        f"up to {n} queries per setting)")
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
        from symtune.eval.suites import unqueried_warning

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


def _training_section(runs: list[Run]) -> list:
    out: list = []
    sums = [train_summary(r) for r in runs]
    if not any(sums):
        return [Para("No training log (train/log.jsonl) in " + ", ".join(f"`{r.label}`" for r in runs) + ".")]
    png = plots.loss_curve(runs)
    if png:
        out.append(Image("loss.png", "Training loss per optimizer step", png))
    header = ["Quantity"] + [r.label for r in runs] if len(runs) > 1 else ["Quantity", "Value"]
    rows = [
        ["last step"] + [str(s["steps"]) if s else DASH for s in sums],
        ["logged steps"] + [str(s["logged"]) if s else DASH for s in sums],
        ["first loss"] + [f"{s['first_loss']:.3f}" if s else DASH for s in sums],
        ["final loss (mean of last logged steps)"] + [f"{s['final_loss']:.3f} ({s['tail']} steps)" if s else DASH for s in sums],
        ["minimum loss"] + [f"{s['min_loss']:.3f}" if s else DASH for s in sums],
        ["peak learning rate"] + [f"{s['peak_lr']:.2e}" if s and s["peak_lr"] is not None else DASH for s in sums],
        ["status"] + [str((r.train_meta or {}).get("status", DASH)) for r in runs],
        ["throughput (tokens/s, mean)"] + [f"{s['tokens_per_s']:.0f}" if s and s["tokens_per_s"] else DASH for s in sums],
    ]
    out.append(Table(header, rows))
    return out


def _data_section(runs: list[Run]) -> list:
    stats = [r.data_stats for r in runs]
    if not any(stats):
        return [Para("No tuning-data statistics (data/stats.json) in " + ", ".join(f"`{r.label}`" for r in runs) + ".")]
    out: list = []
    multi = len(runs) > 1
    head = ["Statistic"] + ([r.label for r in runs] if multi else ["Value"])
    scalars = []
    known = (("n_prompts", "prompts"), ("label_mode", "label mode"), ("symbol_fraction", "symbol fraction"),
             ("shortened", "prompts shortened to fit"), ("shortened_prompts", "prompts shortened to fit"),
             ("tokens_mean", "tokens per prompt (mean)"), ("tokens_max", "tokens per prompt (max)"))
    for key, name in known:
        # label mode and symbol fraction may live in the data config rather than the statistics
        vals = [(s or {}).get(key, (r.data_config or {}).get(key) if s else None) for s, r in zip(stats, runs)]
        if any(v is not None for v in vals):
            scalars.append([name] + [DASH if v is None else _value(v) for v in vals])
    for key in sorted({k for s in stats if s for k, v in s.items() if isinstance(v, (int, float, str, bool))}):
        if key not in {k for k, _ in known}:
            scalars.append([key] + [_value((s or {}).get(key)) if (s or {}).get(key) is not None else DASH for s in stats])
    if scalars:
        out.append(Table(head, scalars))
    for key, title, first in (("tasks", "Prompts per tuning task", "Task"),
                              ("label_modes", "Prompts per label mode", "Label mode"),
                              ("symbol_families", "Symbol families (labels drawn from each)", "Family"),
                              ("templates", "Prompts per template", "Template")):
        dicts = [(s or {}).get(key) if isinstance((s or {}).get(key), dict) else {} for s in stats]
        names: list[str] = []
        for d in dicts:
            names += [k for k in d if k not in names]
        if names:
            out.append(Para(f"**{title}**"))
            rows = [[n] + [_count(d.get(n)) for d in dicts] for n in names]
            rows.append(["**total**"] + [_count(sum(_num(v) for v in d.values())) if d else DASH for d in dicts])
            out.append(Table([first] + ([r.label for r in runs] if multi else ["Count"]), rows))
    png = plots.exemplar_histogram(runs)
    if png:
        out.append(Image("data_exemplars.png", "Tuning prompts per number of exemplars per class", png))
    return out


def _num(v) -> float:
    if isinstance(v, dict):
        v = v.get("count", v.get("n", 0))
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def _count(v) -> str:
    if v is None:
        return DASH
    if isinstance(v, dict):
        v = v.get("count", v.get("n"))
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return _value(v)


def _provenance_section(runs: list[Run]) -> list:
    out: list = []
    multi = len(runs) > 1
    head = ["Item"] + ([r.label for r in runs] if multi else ["Value"])
    metas = [r.run_meta or {} for r in runs]
    run_cfgs = [m.get("config") if isinstance(m.get("config"), dict) else {} for m in metas]

    def prov(r: Run) -> dict:
        for doc in (r.run_meta, r.tuned.doc if r.tuned else None, r.base.doc if r.base else None, r.train_meta):
            if isinstance(doc, dict) and isinstance(doc.get("provenance"), dict):
                return doc["provenance"]
        return {}

    provs = [prov(r) for r in runs]
    rows = [["folder"] + [f"`{r.path}`" for r in runs]]
    for key, name in (("preset", "preset"), ("control", "control")):
        vals = [m.get(key, c.get(key)) for m, c in zip(metas, run_cfgs)]
        if any(v is not None for v in vals):
            rows.append([name] + [DASH if v is None else _value(v) for v in vals])
    for side, name in (("base", "base model"), ("tuned", "tuned model / adapter")):
        vals = []
        for r in runs:
            ev = getattr(r, side)
            if ev is None:
                vals.append(DASH)
            else:
                bits = [str(ev.doc.get("model"))] if ev.doc.get("model") else []
                if ev.doc.get("adapter"):
                    bits.append(f"adapter {ev.doc['adapter']}")
                if ev.doc.get("dtype"):
                    bits.append(str(ev.doc["dtype"]))
                vals.append(", ".join(bits) or DASH)
        if any(v != DASH for v in vals):
            rows.append([name] + vals)

    def hw(doc) -> str:  # what ran, and why that dtype (symtune/hardware.py)
        h = doc.get("hardware") if isinstance(doc, dict) else None
        return f"{h['device']}, {h['dtype']} ({h['reason']})" if isinstance(h, dict) and "reason" in h else DASH

    for name, get in (("training device, dtype", lambda r: r.train_meta),
                      ("evaluation device, dtype", lambda r: (r.tuned or r.base).doc if (r.tuned or r.base) else None)):
        vals = [hw(get(r)) for r in runs]
        if any(v != DASH for v in vals):
            rows.append([name] + vals)
    seeds = []
    for r, m, c in zip(runs, metas, run_cfgs):
        s = m.get("seeds", m.get("seed", c.get("seed")))
        if s is None and r.train_meta:
            s = r.train_meta.get("seeds", r.train_meta.get("seed"))
        if s is None:
            ev = r.tuned or r.base
            s = (ev.doc.get("config") or {}).get("seed") if ev and isinstance(ev.doc.get("config"), dict) else None
        seeds.append(DASH if s is None else (", ".join(f"{k}={v}" for k, v in s.items()) if isinstance(s, dict) else _value(s)))
    rows.append(["seeds"] + seeds)
    rows.append(["git revision"] + [str(p.get("git_revision") or DASH) for p in provs])
    if any(p.get("platform") for p in provs):
        rows.append(["platform"] + [str(p.get("platform") or DASH) for p in provs])
    pkgs: list[str] = []
    for p in provs:
        pkgs += [k for k in (p.get("versions") or {}) if k not in pkgs]
    for k in pkgs:
        rows.append([k] + [str((p.get("versions") or {}).get(k) or DASH) for p in provs])
    out.append(Table(head, rows, "ll" + "l" * (len(head) - 2)))

    timings = [m.get("timings", m.get("stage_timings", m.get("timings_s"))) for m in metas]
    timings = [t if isinstance(t, dict) else {} for t in timings]
    stages: list[str] = []
    for t in timings:
        stages += [k for k in t if k not in stages]
    if stages:
        out.append(Para("**Time per stage** (wall clock, seconds or min:s; a skipped stage shows its last run's time)"))
        trows = [[s] + [_duration(t[s]) if s in t else DASH for t in timings] for s in stages]
        trows.append(["**total**"] + [_duration(sum(v for v in t.values() if isinstance(v, (int, float))))
                                      if t else DASH for t in timings])
        out.append(Table(["Stage"] + ([r.label for r in runs] if multi else ["Time"]), trows))
    else:
        out.append(Para("No per-stage timings (run.json missing or without `timings`)."))

    # resolved configuration: differences first, then everything (collapsed in HTML)
    sources = []
    for r, m in zip(runs, metas):
        cfg = {}
        if isinstance(m.get("config"), dict):
            cfg["run"] = m["config"]
        if r.data_config:
            cfg["data"] = r.data_config
        if r.train_meta and isinstance(r.train_meta.get("config"), dict):
            cfg["train"] = r.train_meta["config"]
        for side in ("base", "tuned"):
            ev = getattr(r, side)
            if ev is not None and isinstance(ev.doc.get("config"), dict):
                cfg[f"eval_{side}"] = ev.doc["config"]
        sources.append(dict(_flat(cfg)))
    keys: list[str] = []
    for s in sources:
        keys += [k for k in s if k not in keys]
    if keys:
        if multi:
            diff = [k for k in keys if len({s.get(k, DASH) for s in sources}) > 1]
            if diff:
                out.append(Para("**Configuration that differs between runs**"))
                out.append(Table(["Key"] + [r.label for r in runs],
                                 [[f"`{k}`"] + [s.get(k, DASH) for s in sources] for k in diff]))
            else:
                out.append(Para("The runs' resolved configurations are identical."))
        out.append(Details("Resolved configuration (all keys)",
                           [Table(["Key"] + ([r.label for r in runs] if multi else ["Value"]),
                                  [[f"`{k}`"] + [s.get(k, DASH) for s in sources] for k in keys], "l" * (1 + len(runs)))]))
    return out


def document(runs: list[Run], metric: str = "acc") -> list:
    """All blocks of the report."""
    b: list = []
    names = ", ".join(f"`{r.label}`" for r in runs)
    b.append(Heading(1, "Symbol tuning report"))
    b.append(Para(f"Runs: {names}. Accuracies in % ({'`' + metric + '`'} from results.json), unweighted mean over "
                  "tasks as in the paper's Table 1; Δ = tuned − base in percentage points. Built from results "
                  "files only."))
    scorings = sorted({str(ev.doc["config"]["scoring"]) for r in runs for ev in (r.base, r.tuned)
                       if ev is not None and isinstance(ev.doc.get("config"), dict) and ev.doc["config"].get("scoring")})
    if scorings:
        b.append(Para(f"Evaluation scoring: {', '.join(scorings)} (from the evaluations' config)."))
    missing = [(r, m) for r in runs for m in r.missing] + [(r, n) for r in runs for n in r.notes]
    if missing:
        b.append(Heading(2, "Missing parts"))
        b.append(Bullets([f"`{r.label}`: {m}" for r, m in missing]))

    b.append(Heading(2, "Table 1: in-context learning, base → tuned"))
    t1, notes = table1(runs, metric)
    b.append(t1)
    b.append(Bullets(notes))
    png = plots.icl_settings(runs, metric)
    if png:
        b.append(Image("icl_settings.png", "ICL accuracy by setting, base vs tuned", png))
    other = other_suites_table(runs, metric)
    if other:
        b.append(Heading(3, "Other suites"))
        b.append(other)

    b.append(Heading(2, "Per-task accuracy"))
    any_task = False
    for key, name, instr, labels in SETTING_ROWS:
        t = per_task_table(runs, "icl", key, metric)
        if t:
            any_task = True
            b.append(Heading(3, f"{name} (instruction: {instr}; relevant labels: {labels})"))
            b.append(t)
    if not any_task:
        b.append(Para("No ICL results."))

    b.append(Heading(2, "Flipped labels"))
    t = per_task_table(runs, "flipped", "flipped", metric)
    if t:
        b.append(Para("Exemplar and query labels flipped on the binary tasks: a model that follows the "
                      "in-context labels scores above chance."))
        png = plots.flipped(runs, metric)
        if png:
            b.append(Image("flipped.png", "Flipped-label accuracy per task", png))
        b.append(t)
    else:
        b.append(Para("No flipped-label results."))

    b.append(Heading(2, "Algorithmic reasoning"))
    t = list_functions_table(runs, metric)
    b.append(Heading(3, "List Functions"))
    if t:
        png = plots.list_functions(runs, metric)
        if png:
            b.append(Image("list_functions.png", "List Functions accuracy per category", png))
        b.append(t)
    else:
        b.append(Para("No List Functions results."))
    b.append(Heading(3, "Simple Turing Concepts"))
    t = per_task_table(runs, "algorithmic", "simp_turing_concept", metric)
    if t:
        png = plots.turing_concepts(runs, metric)
        if png:
            b.append(Image("simp_turing_concept.png", "Simple Turing Concepts accuracy per concept", png))
        b.append(t)
    else:
        b.append(Para("No Simple Turing Concepts results."))

    from symtune.report.measure_blocks import measurement_blocks

    b += measurement_blocks(runs, metric)

    b.append(Heading(2, "Training"))
    b += _training_section(runs)
    b.append(Heading(2, "Tuning data"))
    b += _data_section(runs)
    b.append(Heading(2, "Configuration, seeds, versions, timings"))
    b += _provenance_section(runs)
    return b


__all__ = ["document", "to_markdown", "to_html", "table1", "table_markdown", "images"]
