"""`symtune run` on a tiny random model: stages, skipping, config changes, resume after a kill."""

import json
import shutil

import pytest

from symtune.errors import SymtuneError
from symtune.pipeline import STAGES, run_pipeline
from symtune.run_config import preset_values, resolve_run
from helpers import tiny_cfg


def results(run, stage):
    data = json.loads((run / stage / "results.json").read_text())
    return data["results"], data["summary"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir):
    out = tmp_path_factory.mktemp("run") / "r"
    state = run_pipeline(tiny_cfg(tiny_model_dir), out)
    return out, state


def test_end_to_end_writes_every_stage(finished_run):
    out, state = finished_run
    assert state["status"] == "complete" and state["skipped"] == []
    for stage in STAGES:
        assert (out / stage / "stage.json").is_file()
    assert (out / "data" / "data.jsonl").is_file() and (out / "data" / "stats.json").is_file()
    assert (out / "train" / "adapter_config.json").is_file()
    assert (out / "report" / "report.md").is_file() and (out / "report" / "report.html").is_file()
    from huggingface_hub import ModelCard

    card = ModelCard.load(out / "train" / "README.md")  # refreshed by the report stage with tuned results
    assert {r.dataset_config for r in card.data.eval_results} >= {"labels", "symbols"}
    run = json.loads((out / "run.json").read_text())
    assert set(run["timings"]) >= {"data", "eval_base", "train", "eval_tuned"}
    import sys

    if sys.platform.startswith("linux"):  # memory handed back after each stage, before the next one's children
        rss = run["rss_gb_after_stage"]
        assert set(rss) == set(STAGES)
        assert all(0 < v["after_release"] <= v["before_release"] + 0.05 for v in rss.values()), rss
    assert run["provenance"]["versions"]["transformers"]
    base, _ = results(out, "eval_base")
    tuned, _ = results(out, "eval_tuned")
    assert set(base["icl"]) == set(tuned["icl"]) == {"instr+labels", "labels", "instr+symbols", "symbols"}
    # the tuned model is scored on exactly the base model's prompts
    for name in ("samples_icl_tweets_pn.jsonl",):
        b = [json.loads(x)["prompt_hash"] for x in (out / "eval_base" / name).read_text().splitlines()]
        t = [json.loads(x)["prompt_hash"] for x in (out / "eval_tuned" / name).read_text().splitlines()]
        assert sorted(b) == sorted(t)


def test_second_run_skips_everything(finished_run, tiny_model_dir):
    out, _ = finished_run
    before = (out / "report" / "report.md").read_bytes()
    state = run_pipeline(tiny_cfg(tiny_model_dir), out)
    assert state["skipped"] == list(STAGES)
    assert (out / "report" / "report.md").read_bytes() == before


def test_changed_setting_needs_force_and_reruns_dependents(finished_run, tiny_model_dir, tmp_path):
    src, _ = finished_run
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    with pytest.raises(SymtuneError, match=r"train.steps \(2 -> 3\)"):
        run_pipeline(tiny_cfg(tiny_model_dir, train__steps=3), out)
    state = run_pipeline(tiny_cfg(tiny_model_dir, train__steps=3), out, force=True)
    assert state["skipped"] == ["data", "eval_base"]
    log = [json.loads(x) for x in (out / "train" / "log.jsonl").read_text().splitlines()]
    assert max(r.get("step", 0) for r in log) == 3


def test_killed_runs_resume_to_the_same_results(finished_run, tiny_model_dir, tmp_path, monkeypatch):
    ref, _ = finished_run
    out = tmp_path / "killed"
    import symtune.pipeline as pl

    real_train = pl.run_train
    monkeypatch.setattr(pl, "run_train", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(tiny_cfg(tiny_model_dir), out)
    assert (out / "eval_base" / "stage.json").is_file() and not (out / "train" / "stage.json").exists()
    monkeypatch.setattr(pl, "run_train", real_train)
    run_pipeline(tiny_cfg(tiny_model_dir), out, stop_after="eval_tuned")
    # kill the tuned evaluation part-way: keep half of one samples file, drop results and marker
    samples = out / "eval_tuned" / "samples_icl_tweets_pn.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(lines[: len(lines) // 2]))
    (out / "eval_tuned" / "results.json").unlink()
    (out / "eval_tuned" / "stage.json").unlink()
    state = run_pipeline(tiny_cfg(tiny_model_dir), out)
    assert state["status"] == "complete" and "eval_tuned" not in state["skipped"]
    for stage in ("eval_base", "eval_tuned"):
        assert results(out, stage) == results(ref, stage)


def test_presets_resolve():
    for name in ("quick", "default", "paper"):
        cfg = resolve_run(overrides={"preset": name})
        assert cfg.preset == name and cfg.eval.suite == ("icl" if name == "quick" else "all")
    # quick (make demo) and default share the tuning recipe the search chose: half natural-label prompts (CE)
    quick, default = (resolve_run(overrides={"preset": n}) for n in ("quick", "default"))
    assert quick.data.symbol_fraction == default.data.symbol_fraction == 0.5
    assert quick.train.natural_loss == default.train.natural_loss == "ce" and quick.train.lr == default.train.lr
    assert quick.eval.settings == default.eval.settings and len(quick.eval.settings) == 4
    # the test finalist long_480 (docs/RESULTS.md): 480 steps on fresh prompts, cosine, weight decay, no
    # LoRA dropout; quick's 100 steps keep a constant rate (a cosine decay over 100 steps cost half the gain)
    assert default.train.steps == 480 and default.data.n_prompts == 8 * 480
    assert (default.train.schedule, default.train.weight_decay, default.train.lora_dropout) == ("cosine", 0.01, 0.0)
    assert (quick.train.schedule, quick.train.weight_decay, quick.train.lora_dropout) == ("constant", 0.0, 0.0)
    paper = resolve_run(overrides={"preset": "paper"})
    assert paper.data.task_config == paper.eval.task_config == "paper"
    assert paper.eval.k == 4 and paper.eval.limit == 100 and paper.data.max_exemplars == 10
    with pytest.raises(SymtuneError, match="unknown preset"):
        preset_values("huge")


def test_run_cli_errors(tmp_path, capsys):
    from symtune.cli import main

    assert main(["run", "--out", str(tmp_path / "x"), "--control", "shuffled", "--dry-run"]) == 2
    assert "control" in capsys.readouterr().err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    assert main(["run", "--out", str(tmp_path / "busy"), "--preset", "quick"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_paper_preset_resolves_its_hub_tasks_without_network():
    """The paper preset is for online GPU users; offline we check its stages resolve to the paper's tasks."""
    from symtune.data.run import resolve_tasks as data_tasks
    from symtune.eval.build import resolve_tasks as eval_tasks
    from symtune.run_config import stage_configs

    stages = stage_configs(resolve_run(overrides={"preset": "paper"}), "out")
    tune = data_tasks(stages["data"])
    assert len(tune) == 22 and all(t.role == "tune" for t in tune)
    assert stages["eval_base"].task_config == "paper"
    ev = eval_tasks(stages["eval_base"])
    assert len(ev) == 11 and all(t.role == "eval" for t in ev)


def test_controls_change_only_the_tuning_labels(tiny_model_dir):
    from symtune.pipeline import stage_hashes
    from symtune.run_config import stage_configs

    runs = {c: tiny_cfg(tiny_model_dir, control=c) for c in ("none", "natural-labels", "random-labels")}
    modes = {c: stage_configs(cfg, "out")["data"].label_mode for c, cfg in runs.items()}
    assert modes == {"none": "symbols", "natural-labels": "natural", "random-labels": "random"}
    hashes = {c: stage_hashes(cfg) for c, cfg in runs.items()}
    # a control reuses the base evaluation (same prompts) and redoes data, training and tuned eval
    assert len({h["eval_base"] for h in hashes.values()}) == 1
    assert len({h["data"] for h in hashes.values()}) == 3 and len({h["eval_tuned"] for h in hashes.values()}) == 3


@pytest.mark.parametrize("change", [dict(eval__batch_size=1), dict(eval__processes=2), dict(eval__threads=1),
                                    dict(eval__progress=False), dict(eval__chunk_size=7), dict(train__threads=1),
                                    dict(data__workers=2), dict(cache=True), dict(preset="default")])
def test_runtime_fields_never_rerun_a_stage(finished_run, tiny_model_dir, change):
    from symtune.pipeline import stage_hashes

    assert stage_hashes(tiny_cfg(tiny_model_dir)) == stage_hashes(tiny_cfg(tiny_model_dir, **change))
    out, _ = finished_run
    state = run_pipeline(tiny_cfg(tiny_model_dir, **change), out)  # accepted without --force, nothing rerun
    assert state["skipped"] == list(STAGES)


def test_result_fields_change_their_stage_and_later_ones(tiny_model_dir):
    from symtune.pipeline import stage_hashes

    ref = stage_hashes(tiny_cfg(tiny_model_dir))
    lr = stage_hashes(tiny_cfg(tiny_model_dir, train__lr=5e-4))
    assert [s for s in STAGES if lr[s] != ref[s]] == ["train", "eval_tuned", "report"]
    limit = stage_hashes(tiny_cfg(tiny_model_dir, eval__limit=4))
    assert [s for s in STAGES if limit[s] != ref[s]] == ["eval_base", "eval_tuned", "report"]
    seed = stage_hashes(tiny_cfg(tiny_model_dir, seed=2))
    assert all(seed[s] != ref[s] for s in STAGES)
    assert resolve_run(overrides={"preset": "default"}).eval.processes is None  # auto: hardware.default_processes


def test_release_memory_returns_freed_heap_to_the_os():
    """glibc keeps a freed heap resident (what the train stage left behind); release_memory hands it back."""
    import sys

    from symtune.runtime import release_memory, rss_bytes

    if not sys.platform.startswith("linux"):
        pytest.skip("RSS is read from /proc")
    import numpy as np

    release_memory()
    keep = [np.ones(8192) for _ in range(4000)]  # 64 KB blocks sit below glibc's mmap threshold: on the heap
    del keep[::2]  # holes between live blocks: freed, but the heap cannot shrink past them by itself
    before, after = release_memory()
    assert before - after > 80e6, (before, after)  # most of the ~130 MB of holes goes back
    del keep
