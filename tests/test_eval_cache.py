"""The base-evaluation cache: content address, atomic entries, reuse across runs."""

import json
import shutil

from symtune.eval import cache
from symtune.eval.config import EvalConfig


def ecfg(model, **kw):
    base = dict(model=model, suite="icl", tasks=["snips_weather_music"], k=1, limit=2, dtype="float32",
                progress=False, threads=1)
    base.update(kw)
    return EvalConfig(**base)


def test_address_follows_results_not_runtime(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    key = cache.cache_key(ecfg(tiny_model_dir))
    assert key and key == cache.cache_key(ecfg(tiny_model_dir, batch_size=1, processes=2, chunk_size=3))
    assert key != cache.cache_key(ecfg(tiny_model_dir, limit=3))
    assert key != cache.cache_key(ecfg(tiny_model_dir, seed=1))
    # the same weights in another folder: same address; one changed weight: another address
    other = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, other)
    assert cache.cache_key(ecfg(str(other))) == key
    w = load_file(str(other / "model.safetensors"))
    name = next(iter(w))
    w[name] = w[name] + 1e-3
    save_file(w, str(other / "model.safetensors"), metadata={"format": "pt"})
    assert cache.cache_key(ecfg(str(other))) != key
    assert cache.cache_key(ecfg(tiny_model_dir, adapter=str(tmp_path))) is None  # adapters are not cached


def test_hub_model_identity_is_id_plus_cached_commit(tmp_path, monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someorg--tiny"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert cache.model_identity("someorg/tiny") == {"hub_id": "someorg/tiny", "revision": commit}
    assert cache.model_identity("someorg/not-downloaded") is None


def test_half_written_entries_are_never_used(tmp_path):
    root = tmp_path / "evals"
    (root / ".k1.tmp123").mkdir(parents=True)
    (root / ".k1.tmp123" / "results.json").write_text("{}")
    (root / "k2").mkdir()
    (root / "k2" / "results.json").write_text("{}")  # no cache_entry.json: an incomplete copy
    assert cache.lookup("k1", root) is None and cache.lookup("k2", root) is None
    src = tmp_path / "src"
    src.mkdir()
    (src / "results.json").write_text('{"summary": {}}')
    (src / "samples_icl_x.jsonl").write_text("{}\n")
    entry = cache.store(src, "k3", root, {"model": "m"})
    assert cache.lookup("k3", root) == entry and not [p for p in root.iterdir() if p.name.startswith(".k3")]
    dest = tmp_path / "run" / "eval_base"
    cache.restore(entry, dest, "k3")
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == \
        ["cache.json", "results.json", "samples_icl_x.jsonl"]  # (and symtune's list of its files)
    assert json.loads((dest / "cache.json").read_text())["reused_from"] == str(entry)


def test_two_runs_differing_in_lr_evaluate_the_base_model_once(tiny_model_dir, tmp_path, monkeypatch):
    import symtune.eval as ev
    from helpers import tiny_cfg

    from symtune.pipeline import run_pipeline

    calls = []
    real = ev.evaluate
    monkeypatch.setattr(ev, "evaluate", lambda cfg, out, **kw: calls.append((cfg.adapter, str(out))) or real(cfg, out, **kw))
    kw = dict(cache=True, cache_dir=str(tmp_path / "cache"))
    a = run_pipeline(tiny_cfg(tiny_model_dir, **kw), tmp_path / "a")
    b = run_pipeline(tiny_cfg(tiny_model_dir, train__lr=5e-4, **kw), tmp_path / "b")
    base_calls = [c for c in calls if c[0] is None]
    assert len(base_calls) == 1 and base_calls[0][1].endswith("a/eval_base")
    assert (tmp_path / "b" / "eval_base" / "cache.json").is_file()
    assert b["timings"]["eval_base"] < a["timings"]["eval_base"]
    ra = json.loads((tmp_path / "a" / "eval_base" / "results.json").read_text())
    rb = json.loads((tmp_path / "b" / "eval_base" / "results.json").read_text())
    assert ra["results"] == rb["results"]
    # --no-cache: evaluated again
    run_pipeline(tiny_cfg(tiny_model_dir, train__lr=7e-4, cache=False, cache_dir=str(tmp_path / "cache")),
                 tmp_path / "c", stop_after="eval_base")
    assert len([c for c in calls if c[0] is None]) == 2 and not (tmp_path / "c" / "eval_base" / "cache.json").exists()


def test_sliding_window_models_are_addressed_by_their_scoring_path(tiny_model_dir, tmp_path, monkeypatch):
    """Sliding-window models moved from the full-sequence to the packed scorer: their evaluations get a new
    cache address and eval stage hashes (their training stays), full-attention models keep theirs (no
    SmolLM2 entry is recomputed)."""
    from symtune import pipeline
    from symtune.run_config import RunConfig

    assert cache.scorer_key(tiny_model_dir) == {}
    sliding = tmp_path / "sliding"
    shutil.copytree(tiny_model_dir, sliding)
    cfg = json.loads((sliding / "config.json").read_text())
    cfg.update(layer_types=["sliding_attention", "full_attention"], sliding_window=8)
    (sliding / "config.json").write_text(json.dumps(cfg))
    assert cache.scorer_key(str(sliding)) == {"scorer": "sliding-packed-1"}
    run = RunConfig()
    run.model = str(sliding)
    key, hashes = cache.cache_key(ecfg(str(sliding))), pipeline.stage_hashes(run)
    monkeypatch.setattr(cache, "scorer_key", lambda model: {})  # as before the packed sliding scorer
    old = pipeline.stage_hashes(run)
    assert cache.cache_key(ecfg(str(sliding))) != key
    assert old["eval_base"] != hashes["eval_base"] and old["eval_tuned"] != hashes["eval_tuned"]
    assert old["data"] == hashes["data"] and old["train"] == hashes["train"]
