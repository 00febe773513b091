"""Runner outputs of issue 11: dev split, diagnostics, permutation control and curves in results.json
(tiny model), and one short run on the real bundled model."""

import json

import pytest
import torch

from symtune.cli import main
from symtune.eval.config import EvalConfig
from symtune.eval.runner import run_eval


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dev_run_with_controls_and_curves(tiny_model_dir, tmp_path):
    cfg = EvalConfig(model=tiny_model_dir, suite="all", split="dev", tasks=["snips_weather_music", "snips_3way"],
                     dev_limit=3, k=1, k_curve=[1, 2], permutation_control=True,
                     extra_suites=["flip_curve", "k_curve"], threads=1, progress=False)
    doc = run_eval(cfg, tmp_path / "dev", log=lambda s: None)
    assert doc["notes"]["split"]["name"] == "dev" and doc["seeds"]["split"] == "dev"
    assert doc["notes"]["suites"] == ["icl", "flipped", "flip_curve", "k_curve"]  # algorithmic: test only
    assert set(doc["results"]) == {"icl", "flipped", "perm_control", "flip_curve", "k_curve"}
    assert set(doc["results"]["icl"]) == {"labels", "symbols"}
    # the perm_control suite reuses the setting name but never replaces the ICL summary
    assert doc["summary"]["symbols"] == pytest.approx(
        sum(m["acc"] for m in doc["results"]["icl"]["symbols"].values()) / 2)
    d = doc["diagnostics"]
    sym = d["icl"]["symbols"]["snips_3way"]
    assert sym["n"] == 3 and {"majority_share", "copy_last", "by_family", "by_length"} <= set(sym)
    assert d["perm_control"]["symbols"]["snips_3way"]["n"] == 3
    fc = doc["curves"]["flip_curve"]
    assert set(fc["tasks"]) == {"snips_weather_music"} and set(fc["mean"]) == {"0", "0.25", "0.5", "0.75", "1"}
    # flipped accuracy beside natural accuracy on the same queries; the 100% prompt is the paper's
    paper = {r["doc_id"]: r for r in _rows(tmp_path / "dev" / "samples_flipped_snips_weather_music.jsonl")}
    curve = _rows(tmp_path / "dev" / "samples_flip_curve_snips_weather_music.jsonl")
    full = [r for r in curve if r["setting"] == "p1.00"]
    assert all(r["prompt_hash"] == paper[r["doc_id"]]["prompt_hash"] for r in full)
    assert fc["flipped_paper"] == pytest.approx(doc["results"]["flipped"]["flipped"]["snips_weather_music"]["acc"])
    assert doc["curves"]["k_curve"]["symbols"]["k"] == [1, 2]
    for r in _rows(tmp_path / "dev" / "samples_icl_snips_3way.jsonl"):
        assert {"source", "shown"} <= set(r["meta"]) and ("families" in r["meta"]) == (r["setting"] == "symbols")


def test_default_test_run_has_diagnostics_and_no_opt_in_suites(tiny_model_dir, tmp_path):
    cfg = EvalConfig(model=tiny_model_dir, tasks=["irony"], settings=["labels", "symbols"], limit=4, k=1,
                     threads=1, progress=False)
    doc = run_eval(cfg, tmp_path / "t", log=lambda s: None)
    assert set(doc["results"]) == {"icl"} and doc["curves"] == {}
    assert doc["notes"]["split"]["name"] == "test" and "perm_control" not in doc["diagnostics"]
    assert doc["diagnostics"]["icl"]["labels"]["irony"]["n"] == 4


def test_cli_split_option_and_bad_values(tiny_model_dir, tmp_path, capsys):
    assert main(["eval", "--model", tiny_model_dir, "--split", "dev", "--suite", "algorithmic", "--no-progress",
                 "--out", str(tmp_path / "x")]) == 2
    assert "no dev split" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["eval", "--model", tiny_model_dir, "--split", "valid", "--out", str(tmp_path / "y")]) == 2


@pytest.mark.integration
def test_dev_split_on_the_bundled_model(bundled_model_dir, tmp_path):
    cfg = EvalConfig(model=bundled_model_dir, suite="flipped", split="dev", tasks=["snips_weather_music"],
                     dev_limit=2, permutation_control=True, extra_suites=["flip_curve"], dtype="auto",
                     threads=1, progress=False)
    doc = run_eval(cfg, tmp_path / "b", log=lambda s: None)
    assert doc["n_prompts"] == 2 + 5 * 2  # flipped + five flip proportions per query
    fc = doc["curves"]["flip_curve"]["tasks"]["snips_weather_music"]
    from symtune.eval.curves import slope_weights

    w = slope_weights([float(p) for p in fc["acc"]])
    assert fc["n"] == 2 and sorted(fc["acc"], key=float) == ["0", "0.25", "0.5", "0.75", "1"]
    # every query is scored at every proportion, so the mean per-query slope is the slope of the mean curve
    assert fc["slope"] == pytest.approx(sum(w[float(p)] * a for p, a in fc["acc"].items()), abs=1e-9)
    assert fc["natural"] == fc["acc"]["0"] and fc["flipped_paper"] == pytest.approx(1 - fc["acc"]["1"])
    assert doc["diagnostics"]["flipped"]["flipped"]["snips_weather_music"]["copy_last"] is not None


@pytest.mark.slow
def test_bench_dev_eval_at_a_tiny_size(tiny_model_dir, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_dev_eval.py"
    out = tmp_path / "bench"
    res = subprocess.run([sys.executable, str(bench), "--model", tiny_model_dir, "--dtype", "float32",
                          "--processes", "1", "--limit", "1", "--tasks", "snips_weather_music", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    fig = json.loads((out / "bench.json").read_text())
    assert fig["prompts"] == 3 and fig["prompt_tokens"] > 0 and fig["wall_s"] > 0  # labels, symbols, flipped
    assert 0 <= fig["diagnostics_share_of_wall"] <= 1  # a share; its size is the benchmark's to report, not a test's
