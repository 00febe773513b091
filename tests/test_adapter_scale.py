"""eval.adapter_scale: a LoRA update scaled before merging (0 = base model, 1 = as trained)."""

import json

import pytest
import torch

from symtune.cli import main
from symtune.eval.runner import run_eval

from helpers import eval_cfg as _cfg, error_lines as _errors, lora_adapter as _lora


def _logprobs(folder):
    return [lp for f in sorted(folder.glob("samples_*.jsonl"))
            for r in map(json.loads, f.read_text().splitlines()) for lp in r["logprobs"]]


def test_merged_weights_interpolate_linearly(tiny_model_dir, tmp_path):
    from symtune.models import load_model

    adapter = _lora(tiny_model_dir, tmp_path / "lora", b_value=0.5)
    w = {s: load_model(tiny_model_dir, adapter=adapter, adapter_scale=s).state_dict()
         for s in (0.0, 0.5, 1.0)}
    base = load_model(tiny_model_dir).state_dict()
    assert set(w[0.5]) == set(base)
    key = next(k for k in base if k.endswith("self_attn.q_proj.weight"))
    assert not torch.equal(w[1.0][key], base[key])  # the adapter changes q_proj
    for k in base:
        torch.testing.assert_close(w[0.0][k], base[k], rtol=0, atol=1e-6)
        torch.testing.assert_close(w[0.5][k], (base[k] + w[1.0][k]) / 2, rtol=0, atol=1e-6)


def test_scale_0_is_base_and_1_is_tuned_logprobs(tiny_model_dir, tmp_path):
    adapter = _lora(tiny_model_dir, tmp_path / "lora", b_value=0.01)  # small: log-probs nearly linear in scale
    runs = {"base": run_eval(_cfg(tiny_model_dir, limit=2), tmp_path / "base", log=lambda s: None)}
    for s in (0.0, 0.5, 1.0):
        runs[s] = run_eval(_cfg(tiny_model_dir, limit=2, adapter=adapter, adapter_scale=s), tmp_path / f"s{s}",
                           log=lambda s: None)
    assert runs[0.5]["adapter_scale"] == 0.5 and runs[0.5]["config"]["adapter_scale"] == 0.5
    run_eval(_cfg(tiny_model_dir, limit=2, adapter=adapter), tmp_path / "tuned", log=lambda s: None)
    lp = {k: _logprobs(tmp_path / d) for k, d in (("base", "base"), (0.0, "s0.0"), (0.5, "s0.5"),
                                                    (1.0, "s1.0"), ("tuned", "tuned"))}
    assert lp[0.0] == pytest.approx(lp["base"], abs=1e-5)
    assert lp[1.0] == lp["tuned"]
    gap = [abs(a - b) for a, b in zip(lp["base"], lp["tuned"])]
    assert max(gap) > 1e-3
    # halfway: between the two, near their mean (the update is small), and unlike either
    off_mid = [abs(m - (a + b) / 2) for m, a, b in zip(lp[0.5], lp["base"], lp["tuned"])]
    assert sum(off_mid) < 0.25 * sum(gap) / 2
    # per option too: off the mean by at most a quarter of that option's gap, plus what second-order terms
    # can add where base and tuned nearly agree (log-probs are not linear in the scale, so "between the
    # two" is not guaranteed for an option whose gap is near zero)
    assert all(abs(m - (a + b) / 2) <= 0.25 * abs(a - b) + 1e-4 for m, a, b in zip(lp[0.5], lp["base"], lp["tuned"]))
    # a different scale is a different configuration (hashed): the folder of 1.0 refuses 0.5
    from symtune.eval.runner import config_hash

    assert config_hash(_cfg(tiny_model_dir, adapter=adapter, adapter_scale=0.5)) != \
        config_hash(_cfg(tiny_model_dir, adapter=adapter))


@pytest.mark.parametrize("args,message", [
    (["--adapter-scale", "0.5"], "pass --adapter DIR"),
    (["--adapter-scale", "-1", "--adapter", "ADAPTER"], "finite number"),
    (["--adapter-scale", "nan", "--adapter", "ADAPTER"], "finite number"),
])
def test_bad_scale_one_line(tiny_model_dir, tmp_path, capsys, args, message):
    adapter = _lora(tiny_model_dir, tmp_path / "lora")
    out = tmp_path / "out"
    rc = main(["eval", "--model", tiny_model_dir, "--tasks", "irony", "--limit", "2", "--threads", "1",
               "--no-progress", "--out", str(out), *[adapter if a == "ADAPTER" else a for a in args]])
    err = _errors(capsys)
    assert rc == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_run_hashes_scale_into_the_tuned_evaluation_only(tiny_model_dir, tmp_path):
    from symtune.errors import SymtuneError
    from symtune.pipeline import stage_hashes, validate_stages
    from symtune.run_config import stage_configs

    from helpers import tiny_cfg

    one, half = tiny_cfg(tiny_model_dir), tiny_cfg(tiny_model_dir, eval__adapter_scale=0.5)
    h1, h2 = stage_hashes(one), stage_hashes(half)
    assert [s for s in h1 if h1[s] != h2[s]] == ["eval_tuned", "report"]
    s = stage_configs(half, tmp_path)
    assert s["eval_base"].adapter_scale == 1.0 and s["eval_tuned"].adapter_scale == 0.5
    with pytest.raises(SymtuneError, match="adapter_scale"):
        validate_stages(tiny_cfg(tiny_model_dir, eval__adapter_scale=0.5, train__method="full"), tmp_path)


@pytest.mark.integration
def test_bundled_model_scale_0_reproduces_the_base_model(bundled_model_dir, tmp_path):
    """The real model: a LoRA on every projection, scale 0 gives the base model's log-probs, 0.5 lies between."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(bundled_model_dir)
    pm = get_peft_model(m, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"]))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.02)
    pm.save_pretrained(tmp_path / "lora")
    kw = dict(tasks=["snips_weather_music"], settings=["labels"], limit=2, k=1)
    lp = {}
    for s in (None, 0.0, 0.5, 1.0):
        extra = {} if s is None else {"adapter": str(tmp_path / "lora"), "adapter_scale": s}
        run_eval(_cfg(bundled_model_dir, **kw, **extra), tmp_path / f"e{s}", log=lambda s: None)
        lp[s] = _logprobs(tmp_path / f"e{s}")
    assert lp[0.0] == pytest.approx(lp[None], abs=1e-4)
    assert max(abs(a - b) for a, b in zip(lp[None], lp[1.0])) > 1e-2
    assert all(min(a, b) - 1e-2 <= m <= max(a, b) + 1e-2 for m, a, b in zip(lp[0.5], lp[None], lp[1.0]))
