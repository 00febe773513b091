"""Longer training on fresh prompts (issue 21 item 2): n_prompts auto, no repeated prompt or symbol map,
and the dev evaluation of kept checkpoints (scripts/eval_checkpoints.py) on the tiny model."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from symtune.errors import SymtuneError

ROOT = Path(__file__).resolve().parent.parent


def _resolve(tmp_path, doc, overrides=None):
    from symtune.run_config import resolve_run

    p = tmp_path / "arm.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return resolve_run(str(p), overrides)


def test_n_prompts_auto_follows_the_steps(tmp_path):
    from symtune.pipeline import stage_hashes

    cfg = _resolve(tmp_path, {"preset": "default", "data": {"n_prompts": "auto"}, "train": {"steps": 720}})
    assert cfg.data.n_prompts == 8 * 720
    acc = _resolve(tmp_path, {"preset": "default", "data": {"n_prompts": "auto"},
                              "train": {"steps": 10, "batch_size": 4, "grad_accum": 3, "eval_every": 5}})
    assert acc.data.n_prompts == 4 * 3 * 10 + acc.train.eval_rows  # held-out rows are not trained on
    cli = _resolve(tmp_path, {"preset": "default"}, {"data": {"n_prompts": "auto"}, "train": {"steps": 50}})
    assert cli.data.n_prompts == 400
    # the data stage hashes the resolved number: auto and the same explicit number are the same data
    explicit = _resolve(tmp_path, {"preset": "default", "data": {"n_prompts": 5760}, "train": {"steps": 720}})
    assert stage_hashes(cfg)["data"] == stage_hashes(explicit)["data"]
    assert _resolve(tmp_path, {"preset": "quick"}).data.n_prompts == 1000  # a number stays a number
    assert _resolve(tmp_path, {"preset": "default"}).data.n_prompts == 8 * 480  # the default preset is `auto`


def test_n_prompts_auto_needs_symtune_run():
    from symtune.data.config import DataConfig
    from symtune.data.run import check_config

    with pytest.raises(SymtuneError, match="resolved by `symtune run`"):
        check_config(DataConfig(n_prompts=None))


def test_fresh_prompts_and_symbol_maps_do_not_repeat(bundled_model_dir):
    """The default recipe's data for 60 steps of 8: every row distinct, no symbol->class map drawn twice
    (5,760 rows, 720 steps, measured the same way: 0 repeats among 2,873 symbol rows)."""
    from transformers import AutoTokenizer

    from symtune.data.run import make_builder
    from symtune.run_config import resolve_run

    cfg = dataclasses.replace(resolve_run(None, {"preset": "default", "data": {"n_prompts": "auto"},
                                                  "train": {"steps": 60}}).data)
    assert cfg.n_prompts == 480
    b = make_builder(cfg, AutoTokenizer.from_pretrained(bundled_model_dir))
    rows = [b.row(i) for i in range(cfg.n_prompts)]
    assert len({r["prompt"] + r["completion"] for r in rows}) == len(rows)
    maps = [(r["meta"]["task"], tuple(r["meta"]["symbols"])) for r in rows if r["meta"]["label_mode"] != "natural"]
    assert len(maps) > 150 and len(set(maps)) == len(maps)


def _script():
    spec = importlib.util.spec_from_file_location("eval_checkpoints", ROOT / "scripts" / "eval_checkpoints.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_eval_checkpoints_scores_each_kept_checkpoint_like_eval_tuned(tiny_model_dir, tmp_path):
    from helpers import tiny_cfg

    from symtune.pipeline import run_pipeline

    run = tmp_path / "run"
    run_pipeline(tiny_cfg(tiny_model_dir, data__n_prompts=None, train__steps=4, train__save_every=2,
                          train__save_total_limit=3, train__schedule="cosine", train__weight_decay=0.01), run)
    assert json.loads((run / "run.json").read_text())["config"]["data"]["n_prompts"] == 8  # auto: 2 x 4
    done = _script().main([str(run)])
    assert done == [run / "ckpt" / "step-2"]  # step 4 is the final adapter, already in eval_tuned
    step = json.loads((run / "ckpt" / "step-2" / "eval_tuned" / "results.json").read_text())
    final = json.loads((run / "eval_tuned" / "results.json").read_text())
    assert Path(step["config"]["adapter"]) == run / "train" / "checkpoints" / "checkpoint-2"
    assert {k: v for k, v in step["config"].items() if k != "adapter"} == \
        {k: v for k, v in final["config"].items() if k != "adapter"}
    assert (run / "ckpt" / "step-2" / "eval_base" / "results.json").is_file()
    from symtune.report.load import load_run

    r = load_run(run / "ckpt" / "step-2")  # reads as a run folder (sweep.py add, symtune report)
    assert r.base is not None and r.tuned is not None
    assert _script().main([str(run), "--steps", "2"]) == [run / "ckpt" / "step-2"]  # finished: resumes at once
