"""symtune report: from run folders written by a real `symtune run` of the tiny model (the report itself
runs no model). The control run's samples files and data folder are removed to test the fallbacks; the
partial run stops after the base evaluation and has a truncated training log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from symtune.cli import main
from symtune.errors import SymtuneError
from symtune.report import build_report, summary_table_markdown
from symtune.report.analysis import compare
from symtune.report.load import load_run

ST = CONTROL = PARTIAL = None  # set by the runs fixture below
SETTINGS = [("instr+labels", "Instr + labels"), ("labels", "Labels only"), ("instr+symbols", "Instr + symbols"),
            ("symbols", "Symbols only (neither)")]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _results(path: Path) -> dict:
    return json.loads(path.read_text())["results"]


def _mean_acc(results: dict, setting: str) -> float:
    tasks = results["icl"][setting]
    return sum(m["acc"] for m in tasks.values()) / len(tasks)


def _clustered_ci(setting: str) -> tuple[float, float]:
    """The clustered interval from the samples files (rows without meta.source are their own cluster)."""
    from symtune.eval.stats import Unit, paired_interval

    units = []
    for task in _results(ST / "eval_base" / "results.json")["icl"][setting]:
        def rows(folder):
            return {r["doc_id"]: r for r in map(json.loads, (ST / folder / f"samples_icl_{task}.jsonl")
                                                .read_text().splitlines()) if r["setting"] == setting}
        rb, rt = rows("eval_base"), rows("eval_tuned")
        units += [Unit(task, rb[k]["meta"].get("source", f"{task}{k}"), float(rb[k]["pred"] == rb[k]["gold"]),
                       float(rt[k]["pred"] == rt[k]["gold"])) for k in rb]
    return paired_interval(units).ci


def _table_rows(md: str) -> dict[str, list[str]]:
    rows = {}
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| Setting"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], cells)
    return rows


@pytest.fixture(scope="module", autouse=True)
def runs(report_runs):
    global ST, CONTROL, PARTIAL
    ST, CONTROL, PARTIAL = report_runs
    return report_runs


@pytest.fixture(scope="module")
def single(tmp_path_factory, runs):
    out = tmp_path_factory.mktemp("single")
    return build_report([ST], out=out), out


def test_single_run_writes_md_html_pngs(single):
    res, out = single
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    names = {p.name for p in out.glob("*.png")}
    assert names == {"icl_settings.png", "flipped.png", "list_functions.png", "simp_turing_concept.png", "loss.png",
                     "data_exemplars.png"}
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 5000
    md = (out / "report.md").read_text()
    for name in names:
        assert f"]({name})" in md


def test_table1_numbers_match_fixtures(single):
    _, out = single
    md = (out / "report.md").read_text()
    rows = _table_rows(md.split("## Table 1")[1].split("###")[0])
    base, tuned = _results(ST / "eval_base" / "results.json"), _results(ST / "eval_tuned" / "results.json")
    for key, name in SETTINGS:
        b, t = _mean_acc(base, key), _mean_acc(tuned, key)
        lo, hi = _clustered_ci(key)
        chance = 100 * json.loads((ST / "eval_base" / "results.json").read_text())["summary"]["chance"][key]
        assert rows[name] == [name, f"{100 * b:.1f}", f"{100 * t:.1f}", f"{100 * (t - b):+.1f}",
                              f"[{100 * lo:+.1f}, {100 * hi:+.1f}]", f"{chance:.1f}"], rows[name]
        assert lo <= t - b <= hi
    assert "paired cluster bootstrap" in md


def test_summary_table_markdown_alone():
    md = summary_table_markdown([ST])
    assert md.startswith("| Setting | base | tuned | Δ | 95% CI of Δ | Chance |")
    assert "## " not in md and "![" not in md
    base = _results(ST / "eval_base" / "results.json")
    assert f"| Symbols only (neither) | {100 * _mean_acc(base, 'symbols'):.1f} |" in md
    assert summary_table_markdown(str(ST)) == md  # a single folder as a plain string


def test_html_is_self_contained(single):
    _, out = single
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 6
    assert "<style>" in page and "<table>" in page
    for ref in ('src="http', "href=\"http", "<link", "<script", 'src="icl'):
        assert ref not in page


def test_two_runs_side_by_side(tmp_path):
    res = build_report([ST, CONTROL], out=tmp_path, labels=["symbol-tuned", "control"])
    md = (tmp_path / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Setting"))
    # the runs share the base evaluation: one base column, then per run tuned / delta / CI
    assert header.startswith("| Setting | base (all runs) | symbol-tuned: tuned | symbol-tuned: Δ |")
    assert "control: tuned" in header and "control: 95% CI of Δ" in header
    ctl = _results(CONTROL / "eval_tuned" / "results.json")
    row = _table_rows(md.split("## Table 1")[1].split("###")[0])["Labels only"]
    assert row[5] == f"{100 * _mean_acc(ctl, 'labels'):.1f}"
    assert "normal approximation" in md  # the control has no samples files
    assert "`control`: tuning-data statistics (data/stats.json not found)" in md
    assert len(res["pngs"]) == 6


def test_two_runs_get_their_tuned_contrast(tmp_path):
    """The paper's control claim is tuned minus tuned: the report of A and B shows A − B per setting on the
    same queries, with its interval, and refuses (with the reason) a pair not evaluated alike."""
    twin = tmp_path / "twin"
    shutil.copytree(ST, twin)
    build_report([ST, twin, CONTROL], out=tmp_path / "r", labels=["st", "twin", "control"])
    md = (tmp_path / "r" / "report.md").read_text()
    part = md.split("## Tuned against tuned: `st` minus each other run")[1].split("\n## ")[0]
    tables = [t for t in part.split("\n\n") if t.startswith("| Setting")]
    assert len(tables) == 2
    twin_rows, ctl_rows = _table_rows(tables[0]), _table_rows(tables[1])
    assert "st − twin" in tables[0] and "st − control" in tables[1]
    for name in ("Instr + labels", "Labels only", "Instr + symbols", "Symbols only", "Flipped (paper)"):
        assert twin_rows[name][3] == "+0.0" and twin_rows[name][5] == "clustered"  # itself, paired query by query
    # the algorithmic suites pair too: one samples file per suite setting, each row keyed by its subtask
    assert twin_rows["List Functions"][3] == "+0.0" and twin_rows["List Functions"][5] == "clustered"
    lf = compare(load_run(ST), "algorithmic", "list_functions")  # tuned − base as well
    assert lf.method == "clustered" and lf.n_paired == sum(
        1 for line in (ST / "eval_tuned" / "samples_algorithmic_list_functions.jsonl").open() if line.strip())
    st_acc = _results(ST / "eval_tuned" / "results.json")
    ctl_acc = _results(CONTROL / "eval_tuned" / "results.json")
    row = ctl_rows["Symbols only"]
    assert row[1] == f"{100 * _mean_acc(st_acc, 'symbols'):.1f}" and row[2] == f"{100 * _mean_acc(ctl_acc, 'symbols'):.1f}"
    assert row[3] == f"{100 * (_mean_acc(st_acc, 'symbols') - _mean_acc(ctl_acc, 'symbols')):+.1f}"
    assert row[5] != "clustered"  # the control has no samples files to pair
    assert "List Functions" in ctl_rows
    # another dtype: named, and no contrast printed for that pair
    res = twin / "eval_tuned" / "results.json"
    doc = json.loads(res.read_text())
    doc["dtype"] = "float32" if doc["dtype"] != "float32" else "bfloat16"
    res.write_text(json.dumps(doc))
    build_report([ST, twin], out=tmp_path / "r2", labels=["st", "twin"])
    md = (tmp_path / "r2" / "report.md").read_text()
    part = md.split("## Tuned against tuned")[1].split("\n## ")[0]
    assert "`twin` was not evaluated like `st` (dtype: " in part and "| Setting" not in part


def test_default_labels_are_folder_names_and_label_count_checked(tmp_path):
    md = summary_table_markdown([ST, CONTROL])
    assert "st_run: tuned" in md and "control_run: Δ" in md
    with pytest.raises(SymtuneError, match="--labels"):
        build_report([ST, CONTROL], out=tmp_path, labels=["only-one"])


def test_missing_parts_are_reported(tmp_path):
    build_report([PARTIAL], out=tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "## Missing parts" in md
    for part in ("run.json not found", "eval_tuned/results.json not found", "data/stats.json not found"):
        assert part in md
    assert "No tuning-data statistics" in md
    rows = _table_rows(md.split("## Table 1")[1].split("###")[0])
    assert rows["Labels only"][2:5] == ["–", "–", "–"]  # no tuned evaluation: no tuned, delta, interval
    assert (tmp_path / "loss.png").is_file()  # the truncated training log still plots
    assert not (tmp_path / "data_exemplars.png").exists()


def test_loader_reads_symtunes_layout_and_names_damaged_or_foreign_files(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(CONTROL, run)
    (run / "data").mkdir()
    (run / "data" / "stats.json").write_text(json.dumps(
        {"config": {"label_mode": "random", "symbol_fraction": 1.0},
         "stats": {"n_prompts": 10, "tasks": {"sst2": 10}, "exemplars_per_class": {"2": 4, "3": 6},
                   "symbol_families": {"int": 20}, "shortened_prompts": 1}}))
    (run / "run.json").write_text("{not json")
    (run / "train" / "log.jsonl").write_text('{"step": 1, "loss": 2.0, "lr": null}\n{"step": 2, "loss": 1.5}\n')
    out = tmp_path / "out"
    build_report([run], out=out)
    md = (out / "report.md").read_text()
    assert "run.json unreadable" in md and "| label mode | random |" in md
    assert (out / "data_exemplars.png").is_file() and (out / "loss.png").is_file()
    # a bare evaluation folder is accepted (tuned column only)
    assert "| prompts shortened to fit | 1 |" in md
    summary_md = summary_table_markdown([ST / "eval_tuned"])
    assert "| Instr + labels | – |" in summary_md
    # a statistics file in a layout symtune never writes is named as such, not guessed at
    (run / "data" / "stats.json").write_text(json.dumps({"n_prompts": 10, "tasks": {"sst2": 10}}))
    build_report([run], out=tmp_path / "out2")
    assert "data/stats.json does not hold the 'stats'" in (tmp_path / "out2" / "report.md").read_text()


def test_stale_pngs_removed(tmp_path):
    build_report([ST], out=tmp_path)  # a report with data: writes data_exemplars.png
    assert (tmp_path / "data_exemplars.png").is_file()
    build_report([PARTIAL], out=tmp_path)  # no data folder: its own stale figure goes
    assert not (tmp_path / "data_exemplars.png").exists()
    assert (tmp_path / "report.md").is_file() and (tmp_path / "icl_settings.png").is_file()  # the rest is rebuilt
    assert "data_exemplars.png" not in (tmp_path / "report.md").read_text()  # and nothing links the removed one


def test_cli_report(tmp_path, capsys):
    rc = main(["report", str(ST), str(CONTROL), "--out", str(tmp_path / "r"), "--labels", "st,ctl"])
    assert rc == 0
    assert "st, ctl" in capsys.readouterr().out
    assert (tmp_path / "r" / "report.html").is_file()


def test_cli_default_out_is_run_report(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(PARTIAL, run)
    assert main(["report", str(run)]) == 0
    assert (run / "report" / "report.md").is_file()


def test_cli_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("symtune report: error:") and "does not exist" in err and "\n" not in err
    empty = tmp_path / "empty"
    (empty / "eval_base").mkdir(parents=True)
    assert main(["report", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds no results" in err and "\n" not in err
    assert main(["report", str(ST), "--labels", "a,"]) == 2


def test_list_functions_categories_come_from_the_eval_notes(tmp_path):
    """The runner writes categories in results.json notes, not per subtask: the report must use them."""
    from symtune.report.analysis import categories

    run_dir = tmp_path / "st_run"
    shutil.copytree(ST, run_dir)
    for stage in ("eval_base", "eval_tuned"):
        p = run_dir / stage / "results.json"
        doc = json.loads(p.read_text())
        lf = doc["results"]["algorithmic"]["list_functions"]
        names = sorted(lf)
        for m in lf.values():
            m.pop("category", None)
        doc.setdefault("notes", {})["list_functions_categories"] = {"first": names[:1], "rest": names[1:]}
        p.write_text(json.dumps(doc))
    cats = categories(load_run(run_dir))
    assert {c: sorted(ts) for c, ts in cats.items()} == {"first": names[:1], "rest": names[1:]}
