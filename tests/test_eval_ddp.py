"""Data-parallel eval: `--processes 2` (2 CPU processes under `accelerate launch`) gives the same files
as one process."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_process_eval_matches_single_process(tiny_model_dir, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    common = ["eval", "--model", tiny_model_dir, "--tasks", "irony,snips_3way", "--settings", "labels,symbols",
              "--limit", "5", "--k", "2", "--chunk-size", "3", "--threads", "1", "--no-progress"]
    r = subprocess.run([sys.executable, "-m", "symtune.cli"] + common + ["--processes", "2", "--out",
                       str(tmp_path / "ddp")], env=env, capture_output=True, text=True, timeout=110)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "accelerate.commands.launch" in r.stderr and "--num_processes 2" in r.stderr
    r = subprocess.run([sys.executable, "-m", "symtune.cli"] + common + ["--out", str(tmp_path / "one")], env=env,
                       capture_output=True, text=True, timeout=110)
    assert r.returncode == 0, r.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "results.json").read_text())
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert ddp["world_size"] == 2 and one["world_size"] == 1 and ddp["config"]["processes"] == 2
    assert ddp["results"] == one["results"] and ddp["summary"] == one["summary"]
    for name in ("samples_icl_irony.jsonl", "samples_icl_snips_3way.jsonl"):
        a = [json.loads(x) for x in (tmp_path / "ddp" / name).read_text().splitlines()]
        b = [json.loads(x) for x in (tmp_path / "one" / name).read_text().splitlines()]
        assert [(x["setting"], x["doc_id"], x["prompt_hash"], x["pred"]) for x in a] == \
            [(x["setting"], x["doc_id"], x["prompt_hash"], x["pred"]) for x in b]
        for x, y in zip(a, b):
            assert x["logprobs"] == pytest.approx(y["logprobs"], abs=1e-5)


def test_processes_option_checks_input_before_starting_workers(tmp_path, capsys):
    from symtune.cli import main

    out = tmp_path / "o"
    assert main(["eval", "--tasks", "nope", "--processes", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "relaunching" not in err and not out.exists()
    assert main(["eval", "--processes", "0", "--out", str(out)]) == 2
    assert "--processes must be at least 1" in capsys.readouterr().err
