"""scripts/sweep.py: the recipe-search table and Pareto plot read committed JSON, no model."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def sweep(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("sweep", ROOT / "scripts" / "sweep.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "SWEEP", tmp_path / "sweep.json")
    monkeypatch.setattr(mod, "IMAGES", tmp_path)
    return mod


def test_pareto_front_keeps_only_undominated_arms(sweep):
    pts = [(-13.0, 7.0), (-4.3, 10.4), (-4.3, 6.1), (-2.0, 5.0), (-9.0, 8.6)]
    assert sweep._pareto_front(pts) == [(-4.3, 10.4), (-2.0, 5.0)]


def test_table_and_plot_from_the_json(sweep):
    def arm(lab, sym, minutes=None, est=False):
        e = {"split": "dev", "note": "n", "steps": 120, "settings": {
            "labels": {"delta": lab, "ci": [lab - 5, lab + 5]}, "symbols": {"delta": sym, "ci": [sym - 6, sym + 6]}}}
        if minutes:
            e["train_minutes"], e["train_minutes_estimated"] = minutes, est
        return e

    entries = {"a": arm(-12.9, 6.8, 37.0), "b": arm(-4.3, 10.4, 22.6, True), "c": arm(-2.0, 5.0)}
    for e in entries.values():
        e["dtype"], e["device"] = "bfloat16", "cpu"
    entries["c"]["dtype"] = "float32"
    sweep.SWEEP.write_text(json.dumps(entries))
    rows = sweep.table().splitlines()
    assert any(r.startswith("| c ") and "| ?, float32, cpu |" in r for r in rows), rows
    assert any(r.startswith("| b ") and "22.6 (est.)" in r and "-4.3 [-9.3, +0.7]" in r for r in rows), rows
    assert any(r.startswith("| a ") and "| 37.0 |" in r for r in rows), rows
    assert sweep.plot() == [sweep.IMAGES / "pareto_dev.png"]  # no model recorded: the default model's
    assert (sweep.IMAGES / "pareto_dev.png").stat().st_size > 10_000
    # arms of another model get their own plot: their Δ is against another base, so they share no front
    entries["b"]["model"], entries["c"]["model"] = "gemma3-270m", "smollm2-135m"
    sweep.SWEEP.write_text(json.dumps(entries))
    assert any(r.startswith("| b ") and "| gemma3-270m, bfloat16, cpu |" in r for r in sweep.table().splitlines())
    assert sweep.plot() == [sweep.IMAGES / "pareto_dev.png", sweep.IMAGES / "pareto_dev_gemma3-270m.png"]
    assert (sweep.IMAGES / "pareto_dev_gemma3-270m.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="no arm on the test split"):  # one file per split, none empty
        sweep.plot("test")
    assert not (sweep.IMAGES / "pareto_test.png").exists()


def test_vs_compares_two_tuned_runs_on_the_same_queries(sweep, report_runs):
    st, control, partial = report_runs
    same = sweep.vs(str(st), str(st))  # a run against itself: zero difference, paired query by query
    assert {"instr+labels", "labels", "instr+symbols", "symbols", "flipped"} <= set(same)
    for e in same.values():
        assert e["delta"] == 0 and e["a"] == e["b"]
    assert same["symbols"]["method"] == "clustered" and same["symbols"]["ci"][0] <= 0 <= same["symbols"]["ci"][1]
    mean = lambda run, s: 100 * sum(m["acc"] for m in json.loads((run / "eval_tuned" / "results.json")
                                                                .read_text())["results"]["icl"][s].values())
    d = sweep.vs(str(st), str(control))  # the control has no samples files: an unpaired interval
    for s in ("labels", "symbols"):
        n = len(json.loads((st / "eval_tuned" / "results.json").read_text())["results"]["icl"][s])
        assert d[s]["a"] == pytest.approx(mean(st, s) / n, abs=0.01)
        assert d[s]["b"] == pytest.approx(mean(control, s) / n, abs=0.01)
        assert d[s]["method"] != "clustered"
    with pytest.raises(SystemExit, match="needs eval_tuned"):
        sweep.vs(str(st), str(partial))


def test_vs_refuses_runs_not_evaluated_alike(sweep, report_runs, tmp_path):
    """A bf16 run against an fp32 control (or another eval seed) would mix that into the contrast: vs exits
    with a line naming the difference; --allow-mismatch compares anyway and lists every difference."""
    import shutil

    st = report_runs[0]
    other = tmp_path / "other_run"
    shutil.copytree(st, other)
    res = other / "eval_tuned" / "results.json"
    doc = json.loads(res.read_text())
    doc["dtype"] = "float32" if doc["dtype"] != "float32" else "bfloat16"
    doc["config"]["seed"] += 1
    doc["config"]["batch_size"] = 3  # how the work was batched is not a difference in what was scored
    res.write_text(json.dumps(doc))
    with pytest.raises(SystemExit, match=r"not evaluated alike \(dtype: .* vs .*, and 1 more\).*--allow-mismatch"):
        sweep.vs(str(st), str(other))
    out = sweep.vs(str(st), str(other), allow_mismatch=True)
    assert len(out.pop("mismatch")) == 2 and out["symbols"]["delta"] is not None
    assert sweep.mismatches(doc, doc) == []
    assert "mismatch" not in sweep.vs(str(st), str(st))


def test_rule_applies_the_finalist_rule_seed_by_seed(sweep):
    def arm(ins, sym, il=5.0, lab=5.0, steps=480, split="dev"):
        return {"split": split, "steps": steps, "settings": {
            "instr+labels": {"delta": il}, "labels": {"delta": lab},
            "instr+symbols": {"delta": ins}, "symbols": {"delta": sym}}}

    sweep.SWEEP.write_text(json.dumps({
        "a": arm(17.0, 17.0), "a_s1": arm(12.0, 13.0), "c": arm(9.0, 9.0), "c_s1": arm(10.0, 11.0),
        "r": arm(10.0, 9.0, steps=120), "r_s1": arm(3.0, 4.0, steps=120),
        "bad_s1": arm(8.0, 13.0, lab=-3.5), "c@120": arm(20.0, 20.0, steps=None), "t": arm(1, 1, split="test")}))
    rows = {name: (value, ok) for name, value, ok in sweep.rule(["a", "a_s1"], ["c", "c_s1"], ["r", "r_s1"])}
    # means: instr+symbols (17 + 12) / 2 = 14.5 against control 9.5 (+5.0) and reference 6.5 (+8.0)
    assert rows["instr+symbols: seed-mean lead over the natural-labels control >= +3"] == (5.0, True)
    assert rows["instr+symbols: seed-mean lead over the reference >= +3"] == (8.0, True)
    assert rows["symbols: seed 1 lead over the natural-labels control >= 0"] == (2.0, True)
    assert all(ok for _, ok in rows.values()) and len(rows) == 12
    # one seed below its control in instr+symbols, and a natural-label setting below -3: each named
    failed = [name for name, _, ok in sweep.rule(["a", "bad_s1"], ["c", "c_s1"], ["r", "r_s1"]) if not ok]
    assert failed == ["instr+symbols: seed 1 lead over the natural-labels control >= 0",
                      "labels: seed 1 Δ against the base >= -3"]
    # the same steps for arm and control (a checkpoint entry ARM@STEP counts as STEP); dev entries only
    with pytest.raises(SystemExit, match="same number of steps"):
        sweep.rule(["a"], ["c@120"], ["r"])
    with pytest.raises(SystemExit, match="'t' is a test entry"):
        sweep.rule(["a"], ["t"], ["r"])
    with pytest.raises(SystemExit, match="names one entry twice"):
        sweep.rule(["a", "a_s1"], ["c", "c"], ["r", "r_s1"])
    with pytest.raises(SystemExit, match="no arm 'x'"):
        sweep.rule(["x"], ["c"], ["r"])


def test_a_missing_run_folder_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "sweep.py"), "vs", str(tmp_path / "nope"), str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sweep.py: error: report: run folder") and "nope" in lines[0]


def test_add_records_the_run_and_copies_only_its_small_files(sweep, report_runs):
    st = report_runs[0]
    entry = sweep.add("arm x", str(st), note="n")
    doc = json.loads((st / "eval_tuned" / "results.json").read_text())
    assert (entry["model"], entry["dtype"], entry["device"]) == (doc["model"], doc["dtype"], doc["device"])
    for s in ("labels", "symbols", "flipped"):
        e = entry["settings"][s]
        assert e["tuned"] - e["base"] == pytest.approx(e["delta"], abs=0.02) and e["ci"][0] <= e["delta"] <= e["ci"][1]
    assert json.loads(sweep.SWEEP.read_text())["arm x"] == entry
    copied = sweep.SWEEP.parent / "arm_x"
    assert (copied / "results_tuned.json").is_file() and (copied / "results_base.json").is_file()
    assert not list(copied.rglob("*.safetensors")) and not list(copied.rglob("samples*"))
