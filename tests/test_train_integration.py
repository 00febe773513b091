"""A few LoRA steps on the real bundled model (SmolLM2-135M-Instruct)."""

import json

import pytest

from helpers import sym_rows as _rows, write_jsonl as _write


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_lora_steps_on_bundled_model(bundled_model_dir, tmp_path):
    from symtune.cli import main

    data = _write(tmp_path / "rows.jsonl", _rows(6, seed=5))
    out = tmp_path / "run"
    rc = main(["train", "--model", bundled_model_dir, "--data", data, "--out", str(out), "--steps", "3",
               "--batch-size", "2", "--max-length", "128", "--loss", "dense", "--save-every", "2",
               "--report-to", "tensorboard"])  # dtype auto: bf16 only where this CPU computes it natively
    assert rc == 0
    for name in ("adapter_model.safetensors", "adapter_config.json", "log.jsonl", "loss.png", "symtune_train.json",
                 "README.md"):
        assert (out / name).is_file(), name
    rows = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all(0 < r["loss"] < 20 for r in rows)
    meta = json.loads((out / "symtune_train.json").read_text())
    from symtune.hardware import resolve

    hw = resolve("auto", "auto", "train")
    assert meta["trainable_params"] == 4_884_480 and meta["config"]["dtype"] == hw.dtype
    assert meta["hardware"]["reason"] == hw.reason and meta["device"] == "cpu"
    assert meta["gradient_checkpointing"]["why"].startswith("auto: activations ~")
    assert (out / "checkpoints" / "checkpoint-2" / "symtune_complete.json").is_file()
    from helpers import tb_scalars as _scalars

    assert [s for s, _ in _scalars(out)["train/loss"]] == [1, 2, 3]  # tracked offline by TensorBoard
