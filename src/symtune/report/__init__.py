"""`symtune report`: report.md, a self-contained report.html and PNGs from results files only.

    from symtune.report import build_report, summary_table_markdown
    build_report(["runs/st", "runs/control"], out="runs/report", labels=["symbol-tuned", "control"])
    print(summary_table_markdown(["runs/st"]))   # the Table-1 analogue alone (for the README)

Modules: load.py (tolerant run-folder reader), analysis.py (means, deltas, 95% intervals),
plots.py (matplotlib figures as PNG bytes), blocks.py (the block model), render.py (sections -> blocks), markdown.py and page.py (blocks -> report.md / report.html); measures.py, measure_plots.py and
measure_blocks.py: the measurement section (clustered intervals, diagnostics, permutation control, curves).
"""

from __future__ import annotations

import os
from pathlib import Path

from symtune.provenance import write_bytes_atomic, write_text_atomic
from symtune.report.load import Run, load_run, load_runs

# every PNG the report may write (stale ones from an earlier report are removed)
PNG_NAMES = ("icl_settings.png", "flipped.png", "list_functions.png", "simp_turing_concept.png", "loss.png",
             "data_exemplars.png", "flip_curve.png", "k_curve.png")


METRICS = ("acc", "acc_norm", "acc_gen")


def validate(out, metric: str = "acc", labels: list[str] | None = None) -> None:
    """Every check of the report stage that needs no results: the output folder, metric and labels.
    build_report() calls it first, and `symtune run` calls it before any stage starts."""
    from symtune.errors import SymtuneError
    from symtune.paths import check_output

    if metric not in METRICS:
        raise SymtuneError(f"report: --metric {metric!r} is not one of {', '.join(METRICS)}")
    if labels is not None and any(not str(x).strip() for x in labels):
        raise SymtuneError("report: --labels has an empty label; give names like A,B")
    check_output(out, kind="folder", option="--out")


def build_report(run_dirs, out=None, labels: list[str] | None = None, metric: str = "acc") -> dict:
    """Write report.md, report.html and the PNGs into `out`; return {"md", "html", "pngs", "runs"}.

    `out` defaults to RUN/report for one run folder and ./report for several.
    """
    from symtune.report.render import document, images, to_html, to_markdown

    from symtune import ownership

    run_dirs = [Path(x) for x in run_dirs]
    default = out is None
    out = Path(out) if out else (run_dirs[0] / "report" if len(run_dirs) == 1 else Path("report"))
    validate(out, metric, labels)
    runs = load_runs(run_dirs, labels)
    if default:  # the user named no folder: never write through a link found there
        ownership.check_entry(out.parent, out.name)
    blocks = document(runs, metric)
    pngs = images(blocks)
    md, page = out / "report.md", out / "report.html"
    with ownership.locked(out):
        # every file of this report claimed before the first is written: a user's file of one of these
        # names stops the report with nothing changed; stale PNGs are removed only if symtune wrote them
        ownership.claim(out, *[img.name for img in pngs], md.name, page.name)
        for img in pngs:
            write_bytes_atomic(out / img.name, img.png)
        written = {img.name for img in pngs}
        mine = ownership.owned(out)
        ownership.remove(out, *[n for n in PNG_NAMES if n not in written and n in mine])
        write_text_atomic(md, to_markdown(blocks))
        title = "Symbol tuning report: " + ", ".join(r.label for r in runs)
        write_text_atomic(page, to_html(blocks, title))
    return {"md": md, "html": page, "pngs": [out / img.name for img in pngs], "runs": runs}


def summary_table_markdown(run_dirs, labels: list[str] | None = None, metric: str = "acc") -> str:
    """The paper's Table 1 analogue (four ICL settings, base -> tuned, delta, 95% CI, chance) as Markdown."""
    from symtune.report.render import table1, table_markdown

    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    runs = load_runs(run_dirs, labels)
    table, notes = table1(runs, metric)
    return table_markdown(table) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


__all__ = ["build_report", "summary_table_markdown", "load_run", "load_runs", "Run", "PNG_NAMES"]
