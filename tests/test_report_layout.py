"""The report's figures are readable: titles, legends and value labels inside the figure and clear of
each other (checked on the drawn figures of real pipeline runs), and report.html in headless Chromium."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from symtune.report import measure_plots, plots
from symtune.report.load import load_runs


def _figures(monkeypatch, runs):
    """Every figure the report draws for `runs`, as matplotlib Figures (captured before PNG encoding)."""
    got = []

    def keep(fig):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)  # as _png does
        got.append(fig)
        return b"png"

    monkeypatch.setattr(plots, "_png", keep)
    monkeypatch.setattr(measure_plots, "_png", keep)
    for fn in (plots.icl_settings, plots.flipped, plots.list_functions, plots.turing_concepts, plots.loss_curve,
               plots.exemplar_histogram, measure_plots.flip_curve, measure_plots.k_curve):
        n = len(got)
        fn(runs)
        for fig in got[n:]:
            fig._symtune_name = fn.__name__
    return got


def _boxes(fig):
    """(kind, bbox in display pixels) of the texts a reader must see whole."""
    r = fig.canvas.get_renderer()
    out = []
    if fig._suptitle is not None:
        out.append(("title", fig._suptitle.get_window_extent(r)))
    for ax in fig.axes:
        if ax.get_title():
            out.append(("title", ax.title.get_window_extent(r)))
        leg = ax.get_legend()
        if leg is not None:
            out.append(("legend", leg.get_window_extent(r)))
        for t in ax.texts:
            if t.get_text():
                out.append(("value", t.get_window_extent(r)))
        lo_x, hi_x = sorted(ax.get_xlim())
        lo_y, hi_y = sorted(ax.get_ylim())
        for lab in ax.get_xticklabels() + ax.get_yticklabels():
            x, y = lab.get_position()
            inside = lo_x <= x <= hi_x if lab in ax.get_xticklabels() else lo_y <= y <= hi_y
            if lab.get_text() and lab.get_visible() and inside:  # ticks beyond the limits are not drawn
                flat = lab in ax.get_xticklabels() and lab.get_rotation() == 0  # slanted: boxes overlap, text not
                out.append(("xtick" if flat else "tick", lab.get_window_extent(r)))
        out.append(("xlabel", ax.xaxis.label.get_window_extent(r)))
        out.append(("ylabel", ax.yaxis.label.get_window_extent(r)))
    return out


COMMITTED = Path(__file__).parent.parent / "docs" / "results" / "default_test"


def _committed_run(tmp_path):
    """The default preset's committed test results (results.json only: real task names, 20 List Functions
    subtasks in 5 categories, 17 concepts) as a run folder."""
    for side in ("base", "tuned"):
        (tmp_path / f"eval_{side}").mkdir(parents=True)
        shutil.copy(COMMITTED / f"results_{side}_test.json", tmp_path / f"eval_{side}" / "results.json")
    return tmp_path


@pytest.mark.parametrize("which", ["one", "two", "committed"])
def test_figure_texts_inside_and_clear_of_each_other(monkeypatch, report_runs, which, tmp_path):
    st, control, _ = report_runs
    runs = load_runs({"one": [st], "two": [st, control], "committed": [_committed_run(tmp_path)]}[which])
    figs = _figures(monkeypatch, runs)
    assert {f._symtune_name for f in figs} >= {"icl_settings", "flipped", "list_functions", "turing_concepts"}
    for fig in figs:
        fig.canvas.draw()
        w, h = fig.canvas.get_width_height()
        boxes = _boxes(fig)
        for kind, b in boxes:
            assert b.x0 >= -1 and b.y0 >= -1 and b.x1 <= w + 1 and b.y1 <= h + 1, \
                f"{fig._symtune_name}: a {kind} text is cut off ({b} in a {w}x{h} figure)"
        firm = [(k, b) for k, b in boxes if k in ("title", "legend", "value")]
        for i, (ka, a) in enumerate(firm):
            for kb, b in firm[i + 1:]:
                if ka == kb == "value":
                    continue  # neighbouring value labels are checked by eye (they sit over their own bars)
                assert not a.overlaps(b), f"{fig._symtune_name}: the {ka} overlaps the {kb}"
        ticks = [b for k, b in boxes if k == "xtick"]
        for i, a in enumerate(ticks):
            assert not any(a.overlaps(b) for b in ticks[i + 1:]), f"{fig._symtune_name}: x tick labels overlap"


def test_open_ended_summary_shows_no_chance():
    from symtune.eval.runner import format_summary

    doc = {"summary": {"labels": 0.7, "list_functions": 0.2, "chance": {"labels": 0.4, "list_functions": 0.0},
                       "metric": "acc"}}
    lines = format_summary(doc).splitlines()
    assert lines[1].split() == ["labels", "0.700", "0.400"]
    assert lines[2].split() == ["list_functions", "0.200", "-"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

PROBE_JS = """
<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 60));
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1 && getComputedStyle(e).position !== 'fixed')
    .filter(e => !(e.parentElement && e.parentElement.closest('.scroll, pre')))  // scroll boxes scroll
    .map(e => e.tagName + '.' + e.className);
  document.title = 'PROBE ' + JSON.stringify({images: imgs.length, broken, wide,
                                              scrollWidth: document.documentElement.scrollWidth, width});
});
</script>
"""


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None and os.environ.get("SYMTUNE_REQUIRE_BROWSER") != "1",
                    reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run does)")
def test_report_html_in_headless_chromium(report_runs, tmp_path):
    """report.html at a laptop width: every image loads, nothing is wider than the page."""
    import json
    import re

    assert CHROMIUM, "SYMTUNE_REQUIRE_BROWSER=1 but no chromium on PATH (.ci/install-chromium installs it)"

    from symtune.report import build_report

    st, control, _ = report_runs
    out = tmp_path / "report"
    build_report([st, control], out=out)
    html = (out / "report.html").read_text(encoding="utf-8")
    probe = out / "probe.html"
    probe.write_text(html.replace("</body>", PROBE_JS + "</body>"), encoding="utf-8")
    # no background networking: on a closed network Chromium's own connections only slow it down
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                          "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r"<title>PROBE (.*?)</title>", res.stdout)
    assert m, f"Chromium did not run the probe: {res.stderr[-500:]}"
    got = json.loads(m.group(1).replace("&quot;", '"'))
    assert got["images"] >= 4 and got["broken"] == []
    assert got["wide"] == [] and got["scrollWidth"] <= got["width"] + 1, got
