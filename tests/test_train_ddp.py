"""2-process CPU DDP through `--accelerate-config cpu-ddp` (relaunch under accelerate launch)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import sym_rows as _rows, write_jsonl as _write


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_cpu_ddp_matches_single_process(tiny_model_dir, tmp_path):
    # 4 rows: one step of 2 processes x batch 2 sees the same rows as one process x batch 4, so the
    # first step's loss and gradient norm must agree (supervised tokens are counted over both processes).
    data = _write(tmp_path / "rows.jsonl", _rows(4, seed=3))
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    env.pop("SYMTUNE_ACCELERATE_CHILD", None)
    common = ["--model", tiny_model_dir, "--data", data, "--steps", "2", "--warmup-steps", "0", "--save-every", "0",
              "--lora-dropout", "0", "--loss", "dense", "--lr", "1e-3"]
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    cmd = [sys.executable, "-m", "symtune.cli", "train", *common]
    r = subprocess.run(cmd + ["--out", str(ddp), "--batch-size", "2", "--accelerate-config", "cpu-ddp"],
                       env=env, capture_output=True, text=True, timeout=170)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run(cmd + ["--out", str(single), "--batch-size", "4"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    meta = json.loads((ddp / "symtune_train.json").read_text())
    assert meta["world_size"] == 2 and meta["status"] == "complete" and meta["config"]["accelerate_config"] is None
    assert (ddp / "adapter_model.safetensors").is_file() and (ddp / "loss.png").is_file()
    a = json.loads((ddp / "log.jsonl").read_text().splitlines()[0])
    b = json.loads((single / "log.jsonl").read_text().splitlines()[0])
    assert a["supervised_tokens"] == b["supervised_tokens"]
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-3)
    assert len(Path(ddp / "log.jsonl").read_text().splitlines()) == 2  # one writer (rank 0)
