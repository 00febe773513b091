"""The whole report as blocks, in reading order: Table 1, other suites, tuned against tuned (several runs),
per task, flipped labels, algorithmic reasoning, measurements, training, tuning data, provenance.

    from symtune.report.render import document, to_markdown, to_html
    blocks = document(runs, "acc")

Each section lives in its own module (tables.py, measure_blocks.py, sections.py, provenance_section.py);
blocks.py defines the blocks, markdown.py and page.py render them (re-exported here with `images`
and `table_markdown` for callers).
"""

from __future__ import annotations

from symtune.report import plots
from symtune.report.blocks import Bullets, Heading, Image, Para, Table, images
from symtune.report.fmt import DASH, SETTING_ROWS, SHORT_NAMES, interval, pct, signed
from symtune.report.load import Run
from symtune.report.markdown import table_markdown, to_markdown
from symtune.report.page import to_html
from symtune.report.provenance_section import provenance_section
from symtune.report.sections import data_section, training_section
from symtune.report.tables import list_functions_table, other_suites_table, per_task_table, table1


def document(runs: list[Run], metric: str = "acc") -> list:
    """All blocks of the report, section by section in reading order."""
    from symtune.report.measure_blocks import measurement_blocks

    b = _opening(runs, metric)
    b += _table1_section(runs, metric)
    b += _contrast_section(runs, metric)
    b += _per_task_section(runs, metric)
    b += _flipped_section(runs, metric)
    b += _algorithmic_section(runs, metric)
    b += measurement_blocks(runs, metric)
    b += [Heading(2, "Training"), *training_section(runs)]
    b += [Heading(2, "Tuning data"), *data_section(runs)]
    b += [Heading(2, "Configuration, seeds, versions, timings"), *provenance_section(runs)]
    return b


def _opening(runs: list[Run], metric: str) -> list:
    """Title, what the numbers are, and warnings: tuning-task overlap, missing parts."""
    names = ", ".join(f"`{r.label}`" for r in runs)
    b: list = [Heading(1, "Symbol tuning report"),
               Para(f"Runs: {names}. Accuracies in % ({'`' + metric + '`'} from results.json), unweighted mean over "
                    "tasks as in the paper's Table 1; Δ = tuned − base in percentage points. Built from results "
                    "files only.")]
    scorings = sorted({str(ev.doc["config"]["scoring"]) for r in runs for ev in (r.base, r.tuned)
                       if ev is not None and isinstance(ev.doc.get("config"), dict) and ev.doc["config"].get("scoring")})
    if scorings:
        b.append(Para(f"Evaluation scoring: {', '.join(scorings)} (from the evaluations' config)."))
    overlap = [(r, (r.run_meta or {}).get("tuning_overlap")) for r in runs]
    overlap = [(r, tasks) for r, tasks in overlap if isinstance(tasks, list) and tasks]
    if overlap:  # allowed only by --eval.allow_tuning_overlap: these accuracies are not held-out
        b.append(Heading(2, "Warning: evaluated on tuning tasks"))
        b.append(Bullets([f"`{r.label}` evaluates on {', '.join(f'`{t}`' for t in tasks)}, which it also tuned on "
                          "(--eval.allow_tuning_overlap): those tasks are not held out" for r, tasks in overlap]))
    missing = [(r, m) for r in runs for m in r.missing] + [(r, n) for r in runs for n in r.notes]
    if missing:
        b.append(Heading(2, "Missing parts"))
        b.append(Bullets([f"`{r.label}`: {m}" for r, m in missing]))
    return b


def _table1_section(runs: list[Run], metric: str) -> list:
    t1, notes = table1(runs, metric)
    b: list = [Heading(2, "Table 1: in-context learning, base → tuned"), t1, Bullets(notes)]
    png = plots.icl_settings(runs, metric)
    if png:
        b.append(Image("icl_settings.png", "ICL accuracy by setting, base vs tuned", png))
    other = other_suites_table(runs, metric)
    if other:
        b += [Heading(3, "Other suites"), other]
    return b


def _contrast_section(runs: list[Run], metric: str) -> list:
    """With several runs: the first run's tuned model minus each other's, on the same queries (a control's
    contrast), or why a pair is not compared."""
    from symtune.report.contrast import contrast, mismatches

    first = runs[0]
    others = [r for r in runs[1:] if r.tuned is not None]
    if first.tuned is None or not others:
        return []
    b: list = [Heading(2, f"Tuned against tuned: `{first.label}` minus each other run"),
               Para("The difference between two tuned models on the same queries (for a control: what the tuning "
                    "recipe adds beyond it), with the paired cluster-bootstrap interval of the Measurements "
                    "section; `unpaired`/`mixed` where samples files are missing for some task.")]
    for r in others:
        diff = mismatches(first.tuned.doc, r.tuned.doc)
        if diff:
            b.append(Para(f"`{r.label}` was not evaluated like `{first.label}` ({'; '.join(diff)}): no contrast, "
                          "since the difference would not be the tuning's alone."))
            continue
        rows = [[SHORT_NAMES.get(setting, setting), pct(c.tuned), pct(c.base), signed(c.delta), interval(c.ci),
                 c.method or DASH] for _suite, setting, c in contrast(first, r, metric)]
        if rows:
            b.append(Table(["Setting", first.label, r.label, f"{first.label} − {r.label}", "95% CI", "interval"],
                           rows, "lrrrrl"))
    return b


def _per_task_section(runs: list[Run], metric: str) -> list:
    b: list = [Heading(2, "Per-task accuracy")]
    for key, name, instr, labels in SETTING_ROWS:
        t = per_task_table(runs, "icl", key, metric)
        if t:
            b += [Heading(3, f"{name} (instruction: {instr}; relevant labels: {labels})"), t]
    return b if len(b) > 1 else b + [Para("No ICL results.")]


def _flipped_section(runs: list[Run], metric: str) -> list:
    b: list = [Heading(2, "Flipped labels")]
    t = per_task_table(runs, "flipped", "flipped", metric)
    if not t:
        return b + [Para("No flipped-label results.")]
    b.append(Para("Exemplar and query labels flipped on the binary tasks: a model that follows the "
                  "in-context labels scores above chance."))
    png = plots.flipped(runs, metric)
    if png:
        b.append(Image("flipped.png", "Flipped-label accuracy per task", png))
    return b + [t]


def _algorithmic_section(runs: list[Run], metric: str) -> list:
    b: list = [Heading(2, "Algorithmic reasoning")]
    parts = (("List Functions", list_functions_table(runs, metric), plots.list_functions, "list_functions.png",
              "List Functions accuracy per category"),
             ("Simple Turing Concepts", per_task_table(runs, "algorithmic", "simp_turing_concept", metric),
              plots.turing_concepts, "simp_turing_concept.png", "Simple Turing Concepts accuracy per concept"))
    for title, t, plot, fname, caption in parts:
        b.append(Heading(3, title))
        if not t:
            b.append(Para(f"No {title} results."))
            continue
        png = plot(runs, metric)
        if png:
            b.append(Image(fname, caption, png))
        b.append(t)
    return b


__all__ = ["document", "to_markdown", "to_html", "table1", "table_markdown", "images"]
