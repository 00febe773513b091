"""The report's measurement section from synthetic eval folders with known answers: clustered intervals
(n next to clusters), diagnostics, permutation control, flip and k curves (no model is run)."""

import json
import random

import pytest

from symtune.eval.metrics import aggregate
from symtune.report import build_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROPS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _queries():
    """Two binary tasks; tb's first five queries show ta's first five source items (15 clusters, 20 queries)."""
    out = []
    for task in ("ta", "tb"):
        for d in range(10):
            src = f"s{d}" if task == "ta" or d < 5 else f"{task}{d}"
            out.append((task, d, src, d % 2))
    return out


def _row(suite, task, setting, doc, src, gold, options, pred, meta=None, toks=None):
    meta = dict(meta or {})
    meta.update({"source": src, "shown": [0, 1, 1, 0]})
    return {"doc_id": doc, "setting": setting, "suite": suite, "task": task, "key": task,
            "prompt_hash": f"{suite}|{task}|{setting}|{doc}", "prompt": "...", "options": options,
            "context_tokens": 10, "option_tokens": toks or [1, 1], "logprobs": [0.0, 0.0], "pred": pred,
            "pred_norm": pred, "gold": gold, "meta": meta}


def _eval(folder, side):
    rng = random.Random(side)
    rows_by_file = {}

    def add(r):
        rows_by_file.setdefault((r["suite"], r["task"]), []).append(r)

    for task, d, src, gold in _queries():
        # the same answer for a source item in both tasks (clustered), tuned better on symbols
        sr = random.Random(f"{side}{src}")
        right = sr.random() < (0.5 if side == "base" else 0.8)
        add(_row("icl", task, "labels", d, src, gold, ["neg", "pos"], gold if sr.random() < 0.7 else 1 - gold))
        sym = ["48213", "QXB"]
        pred = gold if right else 1 - gold
        add(_row("icl", task, "symbols", d, src, gold, sym, pred, {"families": ["int", "letters"]}, [6, 2]))
        # permutation: base reads the symbols (same symbol), tuned follows the mapping (same class)
        perm_pred = 1 - pred if side == "base" else pred
        add(_row("perm_control", task, "symbols", d, src, gold, sym[::-1], perm_pred,
                 {"families": ["letters", "int"], "permutation": [1, 0]}, [2, 6]))
        for p in PROPS:  # base follows the exemplars (falls), tuned ignores them (flat)
            ok = p < 0.5 or (p == 0.5 and d % 2 == 0) if side == "base" else True
            add(_row("flip_curve", task, f"p{p:.2f}", d, src, gold, ["neg", "pos"], gold if ok else 1 - gold,
                     {"proportion": p}))
        for k in (1, 2):
            for setting in ("labels", "symbols"):
                ok = rng.random() < (0.4 + 0.2 * k if side == "tuned" else 0.5)
                add(_row("k_curve", task, f"{setting}@k{k}", d, src, gold, ["neg", "pos"], gold if ok else 1 - gold,
                         {"k": k}))
    folder.mkdir(parents=True)
    for (suite, task), rows in rows_by_file.items():
        (folder / f"samples_{suite}_{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    results, summary, cats = aggregate(rows_by_file, "acc")
    doc = {"config": {"scoring": "rank"}, "results": results, "summary": summary, "categories": cats,
           "notes": {"split": {"name": "test"}}}
    (folder / "results.json").write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = tmp_path_factory.mktemp("measured") / "run"
    _eval(run / "eval_base", "base")
    _eval(run / "eval_tuned", "tuned")
    out = run / "report"
    build_report([run], out=out)
    return out, (out / "report.md").read_text()


def _rows(md, heading):
    part = md.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in part.splitlines()
            if line.startswith("| ") and "---" not in line]


def test_intervals_report_clusters_next_to_n(report):
    _, md = report
    rows = {r[0]: r for r in _rows(md, "### Paired intervals, clustered by source item")}
    assert rows["Setting"][5:8] == ["n", "clusters", "n_eff"]
    assert rows["Labels only"][5:7] == ["20", "15"] and rows["Symbols only"][5:7] == ["20", "15"]
    assert "queries/clusters per setting: labels 20/15, symbols 20/15" in md  # Table 1's notes


def test_diagnostics_table(report):
    _, md = report
    rows = _rows(md, "### Diagnostics")
    sym = [r for r in rows if r[0] == "Symbols only"]
    assert [r[1] for r in sym] == ["base", "tuned"]
    assert sym[0][8].endswith("(50.0)")  # int options are half of all options
    assert "Diagnostics per task" in md


def test_permutation_control_table(report):
    _, md = report
    rows = {(r[0], r[1]): r for r in _rows(md, "### Symbol-permutation control")}
    base, tuned = rows[("Symbols only", "base")], rows[("Symbols only", "tuned")]
    assert base[5] == "50.0" and base[7] == "100.0"  # reads the symbols: balanced = chance, same symbol always
    assert tuned[3] == tuned[4] == tuned[5] and tuned[6] == "100.0"  # follows the mapping
    assert rows[("Symbols only", "Δ balanced")][9] == "15"


def test_flip_curve_and_k_curve_with_plots(report):
    out, md = report
    rows = {r[0]: r for r in _rows(md, "### Flip curve")}
    assert rows["0%"][1:3] == ["100.0", "100.0"] and rows["100%"][1:3] == ["0.0", "100.0"]
    slope = rows["slope (accuracy per unit flipped)"]
    assert slope[1] == "-1.20" and slope[2] == "+0.00" and slope[3] == "+1.20"  # a step down at 50%
    lo = float(slope[4].strip("[]").split(",")[0])
    assert lo > 0.3 and slope[5:7] == ["20", "15"]  # clear of zero (the guard is conservative for slopes)
    assert rows["flipped, paper protocol (100% − acc at 100%)"][1:3] == ["100.0", "0.0"]
    k = {r[0]: r for r in _rows(md, "### Exemplars per class")}
    assert set(k) >= {"k", "1", "2"}
    for name in ("flip_curve.png", "k_curve.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    assert "Flip curve" in (out / "report.html").read_text()


def test_opt_in_parts_say_how_to_run_them(tmp_path, report_runs):
    st = report_runs[0]
    build_report([st], out=tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert md.count("Not run: opt-in") == 3 and not (tmp_path / "flip_curve.png").exists()
