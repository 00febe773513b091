"""Issue 13, items 2, 3, 11 (train), 14, 15 (train): a resumed run ends byte-identical to an uninterrupted
one wherever the kill falls; bad hyperparameters and diverging runs stop with one line."""

import json
from pathlib import Path

import pytest
from helpers import train_rows, write_jsonl

from symtune.cli import main
from symtune.errors import SymtuneError
from symtune.train.config import TrainConfig

STEPS = 6
KW = dict(steps=STEPS, batch_size=2, warmup_steps=0, max_length=256, lr=1e-3, lora_dropout=0.1, save_every=2)
FILES = ("adapter_model.safetensors", "adapter_config.json")


class _Kill(Exception):
    pass


def _killer(hook: str, step: int):
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        pass

    def fire(self, args, state, control, **kw):
        if state.global_step == step:
            raise _Kill(f"simulated kill in {hook} at step {step}")

    setattr(Kill, hook, fire)
    return Kill()


@pytest.fixture(scope="module")
def rows8(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("rows") / "rows.jsonl", train_rows(8))


@pytest.fixture(scope="module")
def reference(tiny_model_dir, rows8, tmp_path_factory):
    """The uninterrupted run."""
    from symtune.train import run_training

    out = tmp_path_factory.mktemp("ref") / "ref"
    run_training(TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), **KW), quiet=True)
    return out


def _log(out):
    return [(r["step"], r["loss"]) for r in map(json.loads, (Path(out) / "log.jsonl").read_text().splitlines())
            if "loss" in r]


def _assert_same_as_reference(out, reference):
    for name in FILES:
        assert (Path(out) / name).read_bytes() == (Path(reference) / name).read_bytes(), name
    meta = json.loads((Path(out) / "symtune_train.json").read_text())
    assert meta["status"] == "complete" and meta["steps_done"] == STEPS
    assert _log(out) == _log(reference)
    ckpts = sorted(p.name for p in (Path(out) / "checkpoints").glob("checkpoint-*"))
    assert all(int(c.split("-")[1]) <= STEPS for c in ckpts), ckpts


POINTS = ["before the first checkpoint", "between checkpoints", "at the last checkpoint",
          "during a checkpoint save", "during the final save", "during the final save, no checkpoints"]


# the same command everywhere; --resume (accepted, not needed) at the two edges
CASES = [(p, False) for p in POINTS] + [("before the first checkpoint", True), ("at the last checkpoint", True)]


@pytest.mark.parametrize("point, resume_flag", CASES,
                         ids=[f"{p}, {'with --resume' if r else 'same command'}" for p, r in CASES])
def test_resume_is_byte_identical_wherever_the_kill_falls(point, resume_flag, tiny_model_dir, rows8, reference,
                                                          tmp_path):
    from symtune.train import run_training

    out = tmp_path / "run"
    kw = dict(KW, save_every=0) if point.endswith("no checkpoints") else dict(KW)
    cfg = TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), **kw)
    if point.startswith("during the final save"):
        run_training(cfg, quiet=True)
        meta_path = out / "symtune_train.json"
        meta = json.loads(meta_path.read_text())
        meta["status"] = "running"  # the kill came before the last metadata write ...
        meta_path.write_text(json.dumps(meta))
        w = out / "adapter_model.safetensors"
        w.write_bytes(w.read_bytes()[:100])  # ... and in the middle of writing the weights
        (out / "adapter_config.json").unlink()
    else:
        hook, step = {"before the first checkpoint": ("on_step_end", 1), "between checkpoints": ("on_save", 4),
                      "at the last checkpoint": ("on_save", STEPS), "during a checkpoint save": ("on_save", 4)}[point]
        with pytest.raises(_Kill):
            run_training(cfg, extra_callbacks=[_killer(hook, step)], quiet=True)
        assert not (out / "adapter_model.safetensors").exists()
        if point == "during a checkpoint save":
            ck = out / "checkpoints" / "checkpoint-4"
            (ck / "symtune_complete.json").unlink()
            (ck / "optimizer.pt").write_bytes(b"trunc")
    again = TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), resume=resume_flag, **kw)
    meta = run_training(again, quiet=True)
    assert meta["steps_done"] == STEPS
    _assert_same_as_reference(out, reference)


def test_resume_at_the_last_checkpoint_trains_no_extra_step(tiny_model_dir, rows8, reference, tmp_path):
    """The issue's exact case: 6 steps, --save-every 1, killed right after checkpoint-6 was complete."""
    from symtune.train import run_training

    out = tmp_path / "run"
    kw = dict(KW, save_every=1, save_total_limit=10)
    with pytest.raises(_Kill):
        run_training(TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), **kw),
                     extra_callbacks=[_killer("on_save", STEPS)], quiet=True)
    meta = run_training(TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), resume=True, **kw), quiet=True)
    assert meta["steps_done"] == STEPS and meta["resumed_from"].endswith(f"checkpoint-{STEPS}")
    assert not (out / "checkpoints" / f"checkpoint-{STEPS + 1}").exists()
    _assert_same_as_reference(out, reference)


def test_full_fine_tune_resumed_at_the_last_checkpoint_is_byte_identical(tiny_model_dir, rows8, tmp_path):
    from symtune.train import run_training

    kw = dict(KW, method="full", steps=3, save_every=3)
    run_training(TrainConfig(model=tiny_model_dir, data=rows8, out=str(tmp_path / "ref"), **kw), quiet=True)
    out = tmp_path / "run"
    with pytest.raises(_Kill):
        run_training(TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), **kw),
                     extra_callbacks=[_killer("on_save", 3)], quiet=True)
    meta = run_training(TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), **kw), quiet=True)
    assert meta["steps_done"] == 3 and meta["resumed_from"].endswith("checkpoint-3")
    assert (out / "model.safetensors").read_bytes() == (tmp_path / "ref" / "model.safetensors").read_bytes()


def test_ctrl_c_message_is_true_the_same_command_resumes(tiny_model_dir, rows8, reference, tmp_path, monkeypatch,
                                                        capsys):
    """Item 11 (train): after Ctrl-C the CLI says to rerun the same command; doing so resumes."""
    import transformers

    from transformers import TrainerCallback

    class CtrlC(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise KeyboardInterrupt

    orig = transformers.Trainer.train

    def train_with_ctrl_c(self, *a, **k):
        self.add_callback(CtrlC())
        return orig(self, *a, **k)

    out = tmp_path / "cli"
    argv = ["train", "--model", tiny_model_dir, "--data", rows8, "--out", str(out), "--steps", str(STEPS),
            "--batch-size", "2", "--warmup-steps", "0", "--max-length", "256", "--lr", "0.001",
            "--lora-dropout", "0.1", "--save-every", "2"]
    monkeypatch.setattr(transformers.Trainer, "train", train_with_ctrl_c)
    assert main(argv) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    monkeypatch.setattr(transformers.Trainer, "train", orig)
    assert main(argv) == 0
    assert "resuming from" in capsys.readouterr().err
    _assert_same_as_reference(out, reference)
    # a finished run is not trained again by the same command
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_a_different_config_still_cannot_reuse_an_interrupted_folder(tiny_model_dir, rows8, tmp_path):
    from symtune.train import run_training

    out = tmp_path / "run"
    with pytest.raises(_Kill):
        run_training(TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), **KW),
                     extra_callbacks=[_killer("on_save", 2)], quiet=True)
    before = (out / "symtune_train.json").read_text()
    with pytest.raises(SymtuneError, match=r"different config \(lr: 0.001 -> 0.002"):
        run_training(TrainConfig(model=tiny_model_dir, data=rows8, out=str(out), **dict(KW, lr=2e-3)), quiet=True)
    assert (out / "symtune_train.json").read_text() == before


# ---------------------------------------------------------------- item 3 and 15: hyperparameters

@pytest.mark.parametrize("flag, value, needle", [
    ("--weight-decay", "nan", "weight_decay"), ("--weight-decay", "inf", "weight_decay"),
    ("--weight-decay", "-5", "weight_decay"),
    ("--max-grad-norm", "nan", "max_grad_norm"), ("--max-grad-norm", "-1", "max_grad_norm"),
    ("--max-grad-norm", "inf", "max_grad_norm"),
    ("--lora-alpha", "0", "lora_alpha"), ("--lora-alpha", "-16", "lora_alpha"),
    ("--lr", "nan", "lr"), ("--lr", "inf", "lr"), ("--lr", "0", "lr"), ("--lr", "-0.1", "lr"),
    ("--lora-dropout", "nan", "lora_dropout"), ("--lora-dropout", "1", "lora_dropout"),
    ("--warmup-steps", "-1", "warmup_steps"), ("--steps", "0", "steps"), ("--save-total-limit", "-1", "save_total_limit"),
    ("--threads", "-2", "threads"),
])
def test_bad_hyperparameters_are_refused_before_any_work(flag, value, needle, tiny_model_dir, rows8, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["train", "--model", tiny_model_dir, "--data", rows8, "--out", str(out), flag, value]) == 2
    err = capsys.readouterr().err
    assert f"'{needle}'" in err and value.lstrip("-") in err and "Traceback" not in err
    assert not out.exists()


def test_a_diverging_run_stops_with_one_line(tiny_model_dir, rows8, tmp_path, capsys):
    """NaN in the base weights: the loss and then the LoRA weights become NaN; training stops at once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    m = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        m.model.norm.weight.fill_(float("nan"))
    bad = tmp_path / "nanmodel"
    m.save_pretrained(bad)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(bad)
    out = tmp_path / "o"
    assert main(["train", "--model", str(bad), "--data", rows8, "--out", str(out), "--steps", "4",
                 "--batch-size", "2", "--save-every", "1", "--max-length", "256"]) == 2
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "symtune train: error" in x)
    assert "non-finite" in line and "step 1" in line and "Traceback" not in err
    assert not (out / "adapter_model.safetensors").exists()
    assert json.loads((out / "symtune_train.json").read_text())["status"] == "diverged"
    assert not list((out / "checkpoints").glob("checkpoint-*")) if (out / "checkpoints").exists() else True


# ---------------------------------------------------------------- item 14: help text

def test_train_help_prints_percent_signs(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "~30% slower" in out and "option_strings" not in out


@pytest.mark.parametrize("verb", ["data", "train", "eval", "run", "export"])
def test_every_help_renders(verb, capsys):
    argv = [verb, "lm-eval", "--help"] if verb == "export" else [verb, "--help"]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "option_strings" not in out and "%(" not in out


@pytest.mark.integration
def test_bundled_model_resumed_at_the_last_checkpoint_is_byte_identical(bundled_model_dir, rows8, tmp_path):
    """The real model: a kill right after the final checkpoint, then the same command (item 2)."""
    from symtune.train import run_training

    kw = dict(steps=2, batch_size=2, warmup_steps=0, max_length=256, lr=1e-4, save_every=1, threads=2)
    run_training(TrainConfig(model=bundled_model_dir, data=rows8, out=str(tmp_path / "ref"), **kw), quiet=True)
    out = tmp_path / "run"
    with pytest.raises(_Kill):
        run_training(TrainConfig(model=bundled_model_dir, data=rows8, out=str(out), **kw),
                     extra_callbacks=[_killer("on_save", 2)], quiet=True)
    meta = run_training(TrainConfig(model=bundled_model_dir, data=rows8, out=str(out), **kw), quiet=True)
    assert meta["steps_done"] == 2 and not (out / "checkpoints" / "checkpoint-3").exists()
    for name in FILES:
        assert (out / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name
