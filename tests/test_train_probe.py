"""The training-time probe (train/probe.py): prompts from the evaluation's builder, accuracy logged and
plotted, the same numbers as the evaluation, and no effect on the trained weights."""

import json
from pathlib import Path

import pytest

from symtune.errors import SymtuneError
from symtune.train import run_training
from symtune.train.config import TrainConfig


@pytest.fixture(scope="module")
def rows_file(tmp_path_factory, tiny_model_dir):
    from symtune.data.config import DataConfig
    from symtune.data.run import build_dataset

    out = tmp_path_factory.mktemp("probe_data") / "d.jsonl"
    build_dataset(DataConfig(model=tiny_model_dir, tasks=["multiemo_pn", "multiemo_domain"], n_prompts=8,
                             min_exemplars=1, max_exemplars=2, max_length=256, seed=4), out, progress=False)
    return str(out)


def _cfg(model, data, out, **kw):
    base = dict(model=model, data=data, out=str(out), steps=4, batch_size=2, warmup_steps=0, save_every=0,
                max_length=256, lr=1e-2, dtype="float32", threads=1, probe_rows=4, probe_canary_queries=6)
    base.update(kw)
    return TrainConfig(**base)


def _log(out):
    return [json.loads(x) for x in (Path(out) / "log.jsonl").read_text().splitlines()]


def test_probe_logged_plotted_and_weights_unchanged(tiny_model_dir, rows_file, tmp_path):
    from safetensors.torch import load_file

    meta = run_training(_cfg(tiny_model_dir, rows_file, tmp_path / "p", probe_every=2), quiet=True)
    probes = [r for r in _log(tmp_path / "p") if "probe_s" in r]
    assert [r["step"] for r in probes] == [0, 2, 4]
    for r in probes:
        assert r["probe_symbols_n"] == 4 and r["probe_symbols_chance"] == pytest.approx((0.5 + 0.25) / 2)
        assert r["probe_canary_n"] == 6 and r["probe_canary_chance"] == pytest.approx(1 / 7, abs=1e-4)
        assert 0 <= r["probe_symbols_acc"] <= 1 and 0 <= r["probe_canary_acc"] <= 1
    assert meta["probe"] == probes
    assert (tmp_path / "p" / "loss.png").stat().st_size > 0
    # the probe is runtime-only: the same run without it trains the same weights
    run_training(_cfg(tiny_model_dir, rows_file, tmp_path / "q"), quiet=True)
    a, b = load_file(str(tmp_path / "p" / "adapter_model.safetensors")), load_file(str(tmp_path / "q" / "adapter_model.safetensors"))
    assert set(a) == set(b) and all((a[k] == b[k]).all() for k in a)
    assert not any("probe_s" in r for r in _log(tmp_path / "q"))
    from symtune.config import hashed

    assert hashed(_cfg(tiny_model_dir, rows_file, "x", probe_every=2)) == hashed(_cfg(tiny_model_dir, rows_file, "x"))


def test_canary_is_the_dev_evaluation(tiny_model_dir, rows_file, tmp_path):
    """At step 0 (adapter B = 0) the canary accuracy is the dev evaluation's natural-label accuracy on the
    same task and query count: the probe reuses the evaluation's prompts and scorer."""
    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import run_eval

    run_training(_cfg(tiny_model_dir, rows_file, tmp_path / "p", steps=1, probe_every=1,
                      probe_canary="snips_3way"), quiet=True)
    step0 = next(r for r in _log(tmp_path / "p") if "probe_s" in r and r["step"] == 0)
    doc = run_eval(EvalConfig(model=tiny_model_dir, tasks=["snips_3way"], split="dev", dev_limit=6,
                              dev_settings=["labels"], k=4, dtype="float32", threads=1, progress=False,
                              seed=0), tmp_path / "ev", log=lambda s: None)
    assert step0["probe_canary_acc"] == pytest.approx(doc["results"]["icl"]["labels"]["snips_3way"]["acc"], abs=1e-4)


def test_probe_data_and_bad_options(tiny_model_dir, rows_file, tmp_path):
    meta = run_training(_cfg(tiny_model_dir, rows_file, tmp_path / "p", steps=1, probe_every=1,
                             probe_data=rows_file, probe_canary=None), quiet=True)
    assert [(r["probe_symbols_n"], "probe_canary_acc" in r) for r in meta["probe"]] == [(8, False), (8, False)]
    with pytest.raises(SymtuneError, match="no_such_task"):
        run_training(_cfg(tiny_model_dir, rows_file, tmp_path / "x", probe_every=1, probe_canary="no_such_task"))
    with pytest.raises(SymtuneError, match="probe_data"):
        run_training(_cfg(tiny_model_dir, rows_file, tmp_path / "y", probe_every=1, probe_data="/no/such.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "completion": " a", "meta": {}}\n')
    with pytest.raises(SymtuneError, match="bad.jsonl:1"):
        run_training(_cfg(tiny_model_dir, rows_file, tmp_path / "z", probe_every=1, probe_data=str(bad)))


@pytest.mark.integration
def test_bundled_model_probe(bundled_model_dir, tmp_path):
    from symtune.data.config import DataConfig
    from symtune.data.run import build_dataset

    data = tmp_path / "d.jsonl"
    build_dataset(DataConfig(model=bundled_model_dir, tasks=["multiemo_pn"], n_prompts=2, min_exemplars=1,
                             max_exemplars=1, max_length=160, seed=1), data, progress=False)
    meta = run_training(_cfg(bundled_model_dir, str(data), tmp_path / "p", steps=1, probe_every=2, max_length=160,
                             dtype="auto", threads=2, probe_rows=4, probe_canary="snips_weather_music",
                             probe_canary_queries=6), quiet=True)
    assert [r["step"] for r in meta["probe"]] == [0]  # step 0 only: 1 step, probe_every 2
    first = meta["probe"][0]
    assert first["probe_symbols_n"] == 4 and first["probe_canary_n"] == 6
    # the real model reads natural labels in context on SNIPS (docs/TASKS.md: 0.81, chance 0.5)
    assert first["probe_canary_acc"] >= 0.5


def test_probe_reaches_the_tracker(tiny_model_dir, rows_file, tmp_path):
    """With train.report_to the probe's accuracies go through Trainer.log, so TensorBoard draws them;
    log.jsonl keeps exactly one row per probe (no duplicate from the tracker path)."""
    from helpers import tb_scalars as _scalars

    run_training(_cfg(tiny_model_dir, rows_file, tmp_path / "t", probe_every=2, report_to="tensorboard"), quiet=True)
    probes = [r for r in _log(tmp_path / "t") if "probe_s" in r]
    scalars = _scalars(tmp_path / "t")
    for name in ("symbols", "canary"):
        tb = scalars[f"train/probe/{name}_acc"]
        assert [round(v, 4) for _, v in tb] == [r[f"probe_{name}_acc"] for r in probes]
    assert len(probes) == 3


def test_probe_leaves_out_tasks_with_their_own_classes_per_prompt(tiny_model_dir):
    """`sources` rows: a 16-way probe prompt would be unlike them, so the symbols probe takes the other
    tuning tasks of the rows, and says so when only such tasks are left."""
    from symtune.models import load_tokenizer
    from symtune.train.probe import build_probe

    tok = load_tokenizer(tiny_model_dir)
    cfg = TrainConfig(probe_every=1, probe_rows=2, probe_canary=None)
    rows = [{"meta": {"task": "sources"}}, {"meta": {"task": "multiemo_pn"}}]
    (symbols,) = build_probe(cfg, rows, tok)
    assert {it.task for it in symbols.items} == {"multiemo_pn"}
    with pytest.raises(SymtuneError, match="no registered tuning task"):
        build_probe(cfg, rows[:1], tok)
