"""Issue 23, sections 3 and 5: no wrong or stale result with exit 0, and every option checked first.

Items 8 (the base-evaluation cache verifies an entry before use), 9 (stage hashes hold the model's
identity, not its path), 11 (the held-out guard holds by data, and a run evaluating on its own tuning
tasks needs an explicit opt-in), 19 (one validation per stage config, run for all stages before any
work) and 20 (--cache-dir checked first)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import tiny_cfg

from symtune.cli import main
from symtune.errors import SymtuneError
from symtune.pipeline import run_pipeline


def small(model, **kw):
    """The tiny study, with one task and one setting scored (each base evaluation takes seconds)."""
    base = dict(eval__tasks=["snips_weather_music"], eval__settings=["labels"], eval__limit=2)
    return tiny_cfg(model, **{**base, **kw})


def one_line_error(capsys, needle: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if ": error: " in x]
    assert len(lines) == 1 and needle in lines[0], err
    return lines[0]


def count_base_evals(monkeypatch) -> list:
    import symtune.eval as ev

    calls, real = [], ev.evaluate
    monkeypatch.setattr(ev, "evaluate",
                        lambda cfg, out, **kw: (calls.append(str(out)) if cfg.adapter is None else None)
                        or real(cfg, out, **kw))
    return calls


# == 8. the base-evaluation cache verifies an entry before use =====================================
@pytest.fixture(scope="module")
def stored_cache(tmp_path_factory, tiny_model_dir):
    """A cache holding one base evaluation of the tiny study, and the run that stored it."""
    root = tmp_path_factory.mktemp("cache")
    run = root / "first"
    run_pipeline(small(tiny_model_dir, cache=True, cache_dir=str(root / "evals")), run, stop_after="eval_base")
    (entry,) = [p for p in (root / "evals").iterdir() if not p.name.startswith(".")]
    return root / "evals", entry.name, run


def _edit_accuracies(entry: Path) -> None:
    doc = json.loads((entry / "results.json").read_text())
    for settings in doc["results"].values():
        for tasks in settings.values():
            for m in tasks.values():
                m["acc"] = m["acc_norm"] = 0.999
    (entry / "results.json").write_text(json.dumps(doc))


DAMAGE = {
    "edited_accuracies": _edit_accuracies,
    "truncated_results": lambda e: (e / "results.json").write_text((e / "results.json").read_text()[:40]),
    "empty_results": lambda e: (e / "results.json").write_text(""),
    "lost_samples": lambda e: [p.unlink() for p in e.glob("samples_*.jsonl")],
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_entry_is_not_used(damage, stored_cache, tiny_model_dir, tmp_path, monkeypatch, capsys):
    src, key, first = stored_cache
    root = tmp_path / "evals"
    shutil.copytree(src, root)
    DAMAGE[damage](root / key)
    calls = count_base_evals(monkeypatch)
    out = tmp_path / "run"
    run_pipeline(small(tiny_model_dir, cache=True, cache_dir=str(root)), out, stop_after="eval_base")
    err = capsys.readouterr().err
    notes = [x for x in err.splitlines() if "is not used" in x]
    assert len(notes) == 1 and str(root / key) in notes[0] and "evaluating again" in notes[0], err
    assert calls == [str(out / "eval_base")] and not (out / "eval_base" / "cache.json").exists()
    want = json.loads((first / "eval_base" / "results.json").read_text())
    assert json.loads((out / "eval_base" / "results.json").read_text())["results"] == want["results"]
    # the damaged entry was replaced by the new evaluation: the next run reuses it, without a note
    run_pipeline(small(tiny_model_dir, cache=True, cache_dir=str(root)), tmp_path / "again", stop_after="eval_base")
    assert "is not used" not in capsys.readouterr().err and len(calls) == 1
    assert (tmp_path / "again" / "eval_base" / "cache.json").is_file()


def test_an_intact_cache_entry_is_reused(stored_cache, tiny_model_dir, tmp_path, monkeypatch, capsys):
    src, key, first = stored_cache
    calls = count_base_evals(monkeypatch)
    run_pipeline(small(tiny_model_dir, cache=True, cache_dir=str(src)), tmp_path / "run", stop_after="eval_base")
    assert calls == [] and "is not used" not in capsys.readouterr().err
    assert (tmp_path / "run" / "eval_base" / "results.json").read_bytes() == \
        (first / "eval_base" / "results.json").read_bytes()


# == 9. stage hashes hold the model's identity ======================================================
def test_weights_changed_in_place_rerun_every_stage(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    out = tmp_path / "run"
    cfg = small(str(model))
    run_pipeline(cfg, out, stop_after="train")
    assert run_pipeline(cfg, out, stop_after="train")["skipped"] == ["data", "eval_base", "train"]
    w = load_file(str(model / "model.safetensors"))
    name = next(iter(w))
    w[name] = w[name] + 1e-3
    save_file(w, str(model / "model.safetensors"), metadata={"format": "pt"})  # same path, other weights
    assert run_pipeline(cfg, out, stop_after="train")["skipped"] == []  # nothing stale kept


# == 19. every stage's options checked before any work, by the stage's own validation ================
def run_args(tiny, out, *extra):
    return ["run", "--preset", "quick", "--model", tiny, "--data.tasks", "multiemo_pn", "--data.n_prompts", "8",
            "--data.min_exemplars", "1", "--data.max_exemplars", "2", "--data.max_length", "256",
            "--train.steps", "2", "--train.batch_size", "2", "--train.dtype", "float32",
            "--eval.suite", "icl", "--eval.tasks", "snips_weather_music", "--eval.settings", "labels",
            "--eval.k", "1", "--eval.limit", "2", "--eval.dtype", "float32", "--out", str(out), *extra]


LATE_OPTIONS = [("--eval.adapter_scale", "-1", "adapter-scale"), ("--train.eval_data", "/missing", "eval_data"),
                ("--train.accelerate_config", "nosuch", "accelerate config 'nosuch'"),
                ("--eval.processes", "0", "processes")]


@pytest.mark.parametrize("flag, value, needle", LATE_OPTIONS)
def test_options_a_stage_refuses_are_refused_before_any_work(flag, value, needle, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(run_args(tiny_model_dir, out, "--no-cache", flag, value)) == 2
    one_line_error(capsys, needle)
    assert not (out / "data").exists() and not (out / "run.json").exists()
    assert main(run_args(tiny_model_dir, out, "--no-cache", flag, value, "--dry-run")) == 2  # a dry run too
    one_line_error(capsys, needle)


def test_run_checks_each_stage_with_the_function_the_stage_calls(monkeypatch):
    """By construction: the run's check of a stage is the stage's own (a check added to a stage's
    validation is run up front without listing it in the run)."""
    import symtune.data.run as data_run
    import symtune.eval as ev
    import symtune.report as report
    import symtune.train.trainer as trainer
    from symtune.pipeline import stage_checks

    checks = stage_checks()
    assert checks["data"] is data_run.check_config and checks["train"] is trainer.validate
    assert checks["eval_base"] is ev.validate and checks["eval_tuned"] is ev.validate
    assert checks["report"] is report.validate
    # and each stage calls it first: a refusal there stops the stage before it loads anything
    for module, name, call in ((ev, "validate", lambda: ev.evaluate(ev.EvalConfig(), "unused")),
                               (trainer, "validate", lambda: trainer.run_training(trainer.TrainConfig())),
                               (report, "validate", lambda: report.build_report([], out="unused")),
                               (data_run, "check_config", lambda: data_run.make_builder(data_run.DataConfig()))):
        def refuse(*a, **k):
            raise SymtuneError("refused by the stage's validation")

        monkeypatch.setattr(module, name, refuse)
        with pytest.raises(SymtuneError, match="refused by the stage's validation"):
            call()


# == 20. --cache-dir checked first ==================================================================
def test_cache_dir_that_is_a_file_is_refused_before_any_work(tiny_model_dir, tmp_path, capsys):
    f = tmp_path / "cache.txt"
    f.write_text("mine\n")
    out = tmp_path / "run"
    assert main(run_args(tiny_model_dir, out, "--cache-dir", str(f))) == 2
    line = one_line_error(capsys, f"--cache-dir {f} is an existing file")
    assert "--no-cache" in line and f.read_text() == "mine\n"
    assert not (out / "data").exists() and not (out / "run.json").exists()


def test_read_only_cache_dir_is_refused_before_any_work(tiny_model_dir, tmp_path, monkeypatch, capsys):
    import symtune.paths as paths

    ro = tmp_path / "ro"
    ro.mkdir()
    real = paths._writable_dir
    # as check_output's probe file would find on a read-only mount (chmod does not stop root)
    monkeypatch.setattr(paths, "_writable_dir", lambda d: Path(d).resolve() != ro.resolve() and real(d))
    out = tmp_path / "run"
    assert main(run_args(tiny_model_dir, out, "--cache-dir", str(ro / "evals"))) == 2
    one_line_error(capsys, f"cannot write in {ro}")
    assert not (out / "data").exists() and not (out / "run.json").exists()


# == 11. the held-out guard holds by data, and a run never evaluates on its tuning tasks unasked ====
def test_a_held_out_task_cannot_be_tuned_on_under_another_role_or_name(tiny_model_dir, tmp_path, capsys):
    from helpers import write_csv

    from symtune.tasks.registry import get_task

    config = tmp_path / "tasks.yaml"
    config.write_text("tasks:\n  - {bundled: bbc_sport_business, role: tune}\n")
    out = tmp_path / "rows.jsonl"
    base = ["data", "--model", tiny_model_dir, "--n-prompts", "4", "--out", str(out)]
    assert main([*base, "--task-config", str(config)]) == 2
    one_line_error(capsys, "bbc_sport_business is a held-out evaluation task")
    # the same rows in a file of another name are the same data
    held = get_task("bbc_sport_business")
    rows = [(ex.text, held.labels[ex.label]) for ex in held.examples("train")[:40]]
    copy = write_csv(tmp_path / "my_news.csv", rows)
    assert main([*base, "--task-files", copy]) == 2
    one_line_error(capsys, "from the held-out evaluation task bbc_sport_business")
    assert not out.exists()


def test_a_run_evaluating_on_its_tuning_task_needs_an_explicit_opt_in(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = run_args(tiny_model_dir, out, "--no-cache", "--eval.tasks", "multiemo_pn")
    assert main(args) == 2
    one_line_error(capsys, "eval task(s) multiemo_pn are tuned on by this run")
    assert not (out / "data").exists()
    assert main([*args, "--eval.allow_tuning_overlap"]) == 0
    assert "multiemo_pn, which this run also tunes on" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["tuning_overlap"] == ["multiemo_pn"]
    report = (out / "report" / "report.md").read_text()
    assert "Warning: evaluated on tuning tasks" in report and "`multiemo_pn`" in report


def test_tuning_overlap_compares_data_and_keeps_a_files_own_split(tmp_path):
    from helpers import two_class_csv

    from symtune.tasks.overlap import tuning_overlap
    from symtune.tasks.registry import get_task, task_from_file

    four_way = get_task("multiemo_sentiment4")  # the same review sentences as multiemo_pn
    assert tuning_overlap([four_way], [get_task("multiemo_pn")]) == ["multiemo_pn"]
    assert tuning_overlap([get_task("fever")], [get_task("multiemo_pn"), get_task("snips_3way")]) == []
    f = two_class_csv(tmp_path / "mine.csv")  # split by the seed into tuning and evaluation rows
    tune, held = task_from_file(f, "text", "label", role="tune", seed=0), \
        task_from_file(f, "text", "label", role="eval", seed=0)
    assert tuning_overlap([tune], [held]) == []  # test queries are the file's validation rows
    assert tuning_overlap([tune], [held], split="dev") == ["mine"]  # dev queries come from the tuning rows
