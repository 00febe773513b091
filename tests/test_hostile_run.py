"""Issue 13 through `symtune run`: items 2 (resume in the train stage), 11 (Ctrl-C exits 130 with
"interrupted; rerun to resume") and 12 (the whole config is validated before any stage starts).

The run-level parts of items 11 and 12 came with the lead's in-process pipeline (issue 10); these tests
keep them fixed."""

import json

import pytest

from symtune.cli import main

def _run(tiny, out, *extra):
    return ["run", "--preset", "quick", "--model", tiny, "--data.tasks", "multiemo_pn", "--data.n_prompts", "8",
            "--data.min_exemplars", "1", "--data.max_exemplars", "2", "--data.max_length", "256",
            "--train.steps", "3", "--train.batch_size", "2", "--train.dtype", "float32",
            "--eval.suite", "icl", "--eval.tasks", "snips_weather_music", "--eval.k", "1", "--eval.limit", "2",
            "--eval.dtype", "float32", "--no-cache", "--out", str(out), *extra]


def _interrupt_after_training(monkeypatch):
    """Ctrl-C right after the last optimizer step (its checkpoint complete), before the final save."""
    import transformers

    orig = transformers.Trainer.train

    def train_then_ctrl_c(self, *a, **k):
        orig(self, *a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(transformers.Trainer, "train", train_then_ctrl_c)
    return orig


def test_run_resumes_the_train_stage_to_the_same_adapter(tiny_model_dir, tmp_path, monkeypatch):
    import transformers

    ref = tmp_path / "ref"
    assert main(_run(tiny_model_dir, ref, "--stop-after", "train")) == 0
    out = tmp_path / "run"
    orig = _interrupt_after_training(monkeypatch)
    assert main(_run(tiny_model_dir, out, "--stop-after", "train")) != 0
    assert not (out / "train" / "adapter_model.safetensors").exists()
    monkeypatch.setattr(transformers.Trainer, "train", orig)
    assert main(_run(tiny_model_dir, out, "--stop-after", "train")) == 0
    meta = json.loads((out / "train" / "symtune_train.json").read_text())
    assert meta["steps_done"] == 3  # 8 rows, batch 2: the kill falls mid-epoch
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        assert (out / "train" / name).read_bytes() == (ref / "train" / name).read_bytes()
    assert not (out / "train" / "checkpoints" / "checkpoint-4").exists()


def test_ctrl_c_in_run_exits_130_and_says_rerun(tiny_model_dir, tmp_path, monkeypatch, capsys):
    _interrupt_after_training(monkeypatch)
    rc = main(_run(tiny_model_dir, tmp_path / "run", "--stop-after", "train"))
    err = capsys.readouterr().err
    assert rc == 130 and "interrupted; rerun the same command to resume" in err and "exit code 130" not in err


@pytest.mark.parametrize("flag, value, needle", [("--train.steps", "0", "steps"), ("--eval.limit", "0", "limit"),
                                                 ("--train.lr", "nan", "lr"), ("--eval.k", "0", "k"),
                                                 ("--train.weight_decay", "-5", "weight_decay"),
                                                 ("--eval.threads", "-1", "threads")])
def test_run_validates_every_stage_before_the_first(flag, value, needle, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_run(tiny_model_dir, out, flag, value)) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (out / "data" / "data.jsonl").exists() and not (out / "eval_base" / "results.json").exists()
