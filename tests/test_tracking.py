"""train.report_to: TensorBoard event files written offline by the Trainer and read back; bad names."""

import json

import pytest

from helpers import train_cfg as _cfg, sym_rows as _rows, write_jsonl as _write
from helpers import tb_scalars as _scalars


def test_tensorboard_logs_loss_lr_and_heldout_loss(tiny_model_dir, tmp_path):
    import json

    from symtune.train import run_training

    data = _write(tmp_path / "rows.jsonl", _rows(8))
    out = tmp_path / "tb"
    run_training(_cfg(tiny_model_dir, data, out, steps=3, lr=1e-3, eval_every=2, eval_rows=2,
                      report_to="tensorboard"), quiet=True)
    scalars = _scalars(out)
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3]
    assert [s for s, _ in scalars["train/learning_rate"]] == [1, 2, 3]
    # the tracker sees the same losses as symtune's own log
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    held = [(r["step"], round(r["eval_loss"], 4)) for r in log if "eval_loss" in r]
    assert held and [(s, round(v, 4)) for s, v in scalars["eval/loss"]] == held
    ours = [r["loss"] for r in log if "loss" in r]
    assert [round(v, 4) for _, v in scalars["train/loss"]] == [round(v, 4) for v in ours]


def test_default_writes_no_tracker_files(tiny_model_dir, tmp_path):
    from symtune.train import run_training

    data = _write(tmp_path / "rows.jsonl", _rows(4))
    out = tmp_path / "plain"
    meta = run_training(_cfg(tiny_model_dir, data, out, steps=1), quiet=True)
    assert meta["status"] == "complete" and meta["config"]["report_to"] == "none"
    assert [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()] == [1]  # it trained
    assert not list(out.rglob("events.out.tfevents.*"))


def test_report_to_values():
    from symtune.errors import SymtuneError
    from symtune.train.tracking import report_to

    assert report_to("none") == [] and report_to("") == []
    assert report_to("tensorboard") == ["tensorboard"]
    with pytest.raises(SymtuneError, match="unknown tracker 'tensorbored'.*tensorboard"):
        report_to("tensorboard,tensorbored")


def test_uninstalled_tracker_is_one_line_exit_2(tmp_path, capsys):
    from transformers.integrations.integration_utils import get_available_reporting_integrations

    from symtune.cli import main

    missing = next((n for n in ("clearml", "neptune", "dvclive", "swanlab") if n not in
                    get_available_reporting_integrations()), None)
    if missing is None:
        pytest.skip("every candidate tracker is installed here")
    data = _write(tmp_path / "rows.jsonl", _rows(4))
    rc = main(["train", "--data", data, "--out", str(tmp_path / "o"), "--report-to", missing])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and f"{missing} is not installed" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()
