"""The nested run config: presets < --config YAML < dotted command-line overrides, one-line errors."""

import json

import pytest

from symtune.cli import main


def dry_run(capsys, *args):
    assert main(["run", "--out", "unused", "--dry-run", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_dotted_overrides_reach_the_stage_configs(capsys):
    doc = dry_run(capsys, "--train.lr", "1e-4", "--eval.limit", "50", "--data.symbol_fraction", "0.75",
                  "--data.tasks", "multiemo_pn,fever", "--eval.dtype", "float32", "--seed", "4")
    cfg = doc["config"]
    assert cfg["train"]["lr"] == 1e-4 and cfg["eval"]["limit"] == 50 and cfg["data"]["symbol_fraction"] == 0.75
    assert cfg["data"]["tasks"] == ["multiemo_pn", "fever"] and cfg["eval"]["dtype"] == "float32"
    # run-level fields are wired into every stage
    assert cfg["data"]["seed"] == cfg["train"]["seed"] == cfg["eval"]["seed"] == 4
    # preset values stay where not overridden; hyphenated spelling works too
    assert cfg["train"]["steps"] == 100 and cfg["preset"] == "quick"
    doc2 = dry_run(capsys, "--data.symbol-fraction", "0.75")
    assert doc2["config"]["data"]["symbol_fraction"] == 0.75


def test_eval_seed_keeps_the_evaluation_when_replicating_a_training_seed(capsys, tmp_path):
    """--seed 1 --eval-seed 0: data and training change, the evaluation prompts (and the cached base) do not."""
    from symtune.pipeline import stage_hashes
    from symtune.run_config import resolve_run

    cfg = dry_run(capsys, "--seed", "1", "--eval-seed", "0")["config"]
    assert cfg["data"]["seed"] == cfg["train"]["seed"] == 1 and cfg["eval"]["seed"] == 0
    h0, h1 = stage_hashes(resolve_run()), stage_hashes(resolve_run(overrides={"seed": 1, "eval_seed": 0}))
    assert h1["eval_base"] == h0["eval_base"] and h1["train"] != h0["train"]
    # unset: the run's seed, as before (so existing run folders keep their hashes)
    assert stage_hashes(resolve_run(overrides={"seed": 1}))["eval_base"] != h0["eval_base"]
    # a user's file is split by the seed: a different eval seed would leak tuning rows into the queries
    f = tmp_path / "mine.csv"
    f.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(40)))
    from symtune.errors import SymtuneError
    from symtune.pipeline import validate_stages

    with pytest.raises(SymtuneError, match="eval_seed 0 differs from seed 1"):
        validate_stages(resolve_run(overrides={"seed": 1, "eval_seed": 0, "data": {"task_files": [str(f)]}}),
                        tmp_path / "r")


def test_yaml_layer_between_preset_and_command_line(tmp_path, capsys):
    y = tmp_path / "arm.yaml"
    y.write_text("preset: default\ntrain:\n  steps: 240\n  lr: 0.0001\neval:\n  limit: 20\n")
    cfg = dry_run(capsys, "--config", str(y), "--train.lr", "3e-4")["config"]
    assert cfg["preset"] == "default" and cfg["data"]["tasks"][2] == "sources"  # from the preset
    assert cfg["data"]["n_prompts"] == 8 * 240  # the preset's `auto`, from the file's steps
    assert cfg["train"]["steps"] == 240 and cfg["eval"]["limit"] == 20      # from the file
    assert cfg["train"]["lr"] == 3e-4                                       # command line wins


def test_one_token_limit_for_the_run(capsys):
    """Training takes the rows at the limit they were built for: train.max_length follows data.max_length."""
    cfg = dry_run(capsys, "--preset", "default", "--data.max_length", "512")["config"]
    assert cfg["data"]["max_length"] == cfg["train"]["max_length"] == 512


@pytest.mark.parametrize("yaml_text, args, message", [
    ("train:\n  bogus: 1\n", [], "unknown key(s) train.bogus"),
    ("eval:\n  limit: many\n", [], "'eval.limit' must be an integer"),
    ("train:\n  model: other\n", [], "'train.model' is set by the run; set model"),
    ("train:\n  max_length: 512\n", [], "'train.max_length' is set by the run; set data.max_length"),
    ("data: [1, 2]\n", [], "'data' must be a mapping"),
    ("", ["--train.lr", "fast"], "command line: 'train.lr' must be a number"),
    ("", ["--eval.dtype", "int8"], "option 'eval.dtype': unknown value 'int8'"),
    ("", ["--train.weight_decay", "nan"], "'train.weight_decay' must be a finite number"),
])
def test_bad_config_one_line_exit_2(tmp_path, capsys, yaml_text, args, message):
    y = tmp_path / "c.yaml"
    y.write_text(yaml_text or "{}\n")
    assert main(["run", "--out", str(tmp_path / "r"), "--config", str(y), *args, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err, err
    if yaml_text:
        assert str(y) in err
    assert not (tmp_path / "r").exists()


def test_per_verb_flags_are_the_same_fields(tmp_path):
    """`symtune train --lr` and `symtune run --train.lr` set one field, declared once."""
    import dataclasses

    from symtune.cli import build_parser
    from symtune.run_config import WIRED
    from symtune.train.config import TrainConfig

    parser = build_parser()
    sub = [a for a in parser._actions if a.dest == "verb"][0].choices
    train_dests = {a.dest for a in sub["train"]._actions}
    run_dests = {a.dest for a in sub["run"]._actions}
    for f in dataclasses.fields(TrainConfig):
        assert f.name in train_dests
        if f.name not in WIRED["train"]:
            assert "train." + f.name in run_dests
        else:  # the run sets it: no --train.<wired> flag
            assert "train." + f.name not in run_dests


def test_one_definition_of_runtime_fields():
    from symtune.config import hashed
    from symtune.eval.config import RUNTIME_FIELDS, EvalConfig
    from symtune.train.config import NON_SEMANTIC, TrainConfig

    assert set(RUNTIME_FIELDS) == {"batch_size", "threads", "processes", "chunk_size", "force", "progress",
                                   "allow_tuning_overlap"}  # permits a run, changes no result
    assert {"threads", "resume", "out", "save_every"} <= set(NON_SEMANTIC) and "lr" not in NON_SEMANTIC
    assert "batch_size" not in hashed(EvalConfig()) and "batch_size" in hashed(TrainConfig())


def test_interrupt_exits_130_or_143_with_resume_line(tmp_path, capsys, monkeypatch, tiny_model_dir):
    import os
    import signal

    import symtune.pipeline as pl

    args = ["run", "--out", str(tmp_path / "r"), "--model", tiny_model_dir, "--no-cache", "--stop-after", "train",
            "--data.n_prompts", "8", "--data.tasks", "multiemo_pn", "--eval.tasks", "snips_weather_music",
            "--eval.suite", "icl", "--eval.limit", "1", "--eval.k", "1", "--eval.dtype", "float32"]
    monkeypatch.setattr(pl, "run_eval_base", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(args) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "symtune run: interrupted; rerun the same command to resume"
    monkeypatch.setattr(pl, "run_eval_base", lambda *a, **k: os.kill(os.getpid(), signal.SIGTERM))
    assert main(args) == 143
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("interrupted; rerun the same command to resume")
    assert signal.getsignal(signal.SIGTERM) is not None  # the previous handler is back


def test_a_users_file_is_split_alike_for_tuning_and_evaluation(tmp_path):
    """Same run seed -> same train/validation split in data and eval: tuning never sees an eval query."""
    from symtune.data.config import DataConfig
    from symtune.data.run import resolve_tasks as data_tasks
    from symtune.eval.config import EvalConfig
    from symtune.eval.build import resolve_tasks as eval_tasks

    csv = tmp_path / "mine.csv"
    csv.write_text("text,label\n" + "".join(f"sentence number {i},{'ab'[i % 2]}\n" for i in range(60)))
    for seed in (0, 5):
        tune = data_tasks(DataConfig(task_files=[str(csv)], seed=seed))[0]
        ev = eval_tasks(EvalConfig(task_file=str(csv), seed=seed))[0]
        tuned_on = {e.text for e in tune.examples(tune.exemplar_split)}
        queries = {e.text for e in ev.examples(ev.query_split)}
        assert queries and tuned_on and not tuned_on & queries
    a = {e.text for e in eval_tasks(EvalConfig(task_file=str(csv), seed=0))[0].examples("validation")}
    b = {e.text for e in eval_tasks(EvalConfig(task_file=str(csv), seed=5))[0].examples("validation")}
    assert a != b  # the seed does move the split
