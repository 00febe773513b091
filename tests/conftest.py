"""Shared fixtures. Tests never touch the network: HF_HUB_OFFLINE is forced on."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def bundled_model_dir():
    """The real bundled model (SmolLM2-135M-Instruct) as prepared safetensors."""
    from symtune.models import prepare_bundled

    return str(prepare_bundled("smollm2-135m"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, bundled_model_dir):
    """A tiny randomly initialised Llama with the real SmolLM2 tokenizer (fast unit tests)."""
    from helpers import build_tiny_model

    return build_tiny_model(bundled_model_dir, tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def adapter(tiny_model_dir, tmp_path_factory):
    """A LoRA adapter of the tiny model, trained one step (tests that alter one work on a copy:
    helpers.adapter_copy)."""
    from helpers import tiny_adapter

    return tiny_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory, tiny_model_dir):
    """Run folders for report tests, written by the real pipeline on the tiny model: a symbol-tuned run,
    a random-labels control without samples files or data folder (the report's fallbacks), and a partial
    run (base evaluation only, no run.json, a training log cut mid-line)."""
    import shutil

    from helpers import tiny_cfg

    from symtune.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("report_runs")
    st, control, partial = root / "st_run", root / "control_run", root / "partial_run"
    kw = dict(eval__suite="all", eval__limit=4, eval__lf_subtasks=["c001", "c002", "c003"])
    run_pipeline(tiny_cfg(tiny_model_dir, **kw), st)
    run_pipeline(tiny_cfg(tiny_model_dir, control="random-labels", **kw), control)
    for f in control.glob("eval_*/samples_*.jsonl"):
        f.unlink()
    shutil.rmtree(control / "data")
    run_pipeline(tiny_cfg(tiny_model_dir, **kw), partial, stop_after="eval_base")
    (partial / "run.json").unlink()
    shutil.rmtree(partial / "data")
    (partial / "train").mkdir()
    log = (st / "train" / "log.jsonl").read_text().splitlines()
    (partial / "train" / "log.jsonl").write_text(log[0] + "\n" + log[1][: len(log[1]) // 2])  # killed mid-write
    return st, control, partial
