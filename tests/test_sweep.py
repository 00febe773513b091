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

    sweep.SWEEP.write_text(json.dumps({"a": arm(-12.9, 6.8, 37.0), "b": arm(-4.3, 10.4, 22.6, True),
                                       "c": arm(-2.0, 5.0)}))
    rows = sweep.table().splitlines()
    assert any(r.startswith("| b ") and "22.6 (est.)" in r and "-4.3 [-9.3, +0.7]" in r for r in rows), rows
    assert any(r.startswith("| a ") and "| 37.0 |" in r for r in rows), rows
    out = sweep.plot()
    assert out == sweep.IMAGES / "pareto_dev.png" and out.stat().st_size > 10_000
    with pytest.raises(SystemExit, match="no arm on the test split"):  # one file per split, none empty
        sweep.plot("test")
    assert not (sweep.IMAGES / "pareto_test.png").exists()
