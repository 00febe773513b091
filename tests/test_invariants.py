"""Behaviour pins taken before the one-config redesign (issue 10): the redesign must not change them.

If a deliberate fix changes one of these, regenerate with `python tests/test_invariants.py --write`
and say in the test (and the commit) which fix changed it and why.
"""

import hashlib
import json
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).parent / "fixtures" / "invariants"

DATA_ARGS = ["--tasks", "multiemo_pn,fever", "--n-prompts", "24", "--min-exemplars", "1", "--max-exemplars", "3",
             "--max-length", "320"]
EVAL_ARGS = ["--suite", "all", "--tasks", "snips_weather_music,irony", "--k", "1", "--limit", "3",
             "--dtype", "float32", "--threads", "1", "--no-progress"]


def data_bytes(model, out: Path, seed: int) -> bytes:
    from symtune.cli import main

    assert main(["data", "--model", model, *DATA_ARGS, "--seed", str(seed), "--out", str(out)]) == 0
    return out.read_bytes()


def eval_rows(model, out: Path) -> list[dict]:
    from symtune.cli import main

    assert main(["eval", "--model", model, *EVAL_ARGS, "--seed", "3", "--out", str(out)]) == 0
    rows = []
    for f in sorted(out.glob("samples_*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            rows.append({"key": [r["suite"], r["task"], r["setting"], r["doc_id"]], "prompt": r["prompt"],
                         "options": r["options"], "logprobs": r["logprobs"], "gold": r["gold"],
                         "generation": r.get("generation")})
    return rows


def adapter_tensors(model, data: Path, out: Path) -> dict:
    from safetensors.torch import load_file

    from symtune.train.config import TrainConfig
    from symtune.train.trainer import run_training

    cfg = TrainConfig(model=model, data=str(data), out=str(out), steps=3, batch_size=2, warmup_steps=0,
                      save_every=0, max_length=320, dtype="float32", lr=1e-3, seed=5, threads=1)
    run_training(cfg, quiet=True)
    return load_file(str(out / "adapter_model.safetensors"))


@pytest.mark.parametrize("seed", [0, 7])
def test_data_bytes_pinned(bundled_model_dir, tmp_path, seed):
    got = hashlib.sha256(data_bytes(bundled_model_dir, tmp_path / "d.jsonl", seed)).hexdigest()
    want = json.loads((FIX / "data_sha256.json").read_text())[str(seed)]
    assert got == want


def test_eval_prompts_and_fp32_logprobs_pinned(tiny_model_dir, tmp_path):
    got = eval_rows(tiny_model_dir, tmp_path / "ev")
    want = json.loads((FIX / "eval_rows.json").read_text())
    assert [r["key"] for r in got] == [r["key"] for r in want]
    for g, w in zip(got, want):
        assert g["prompt"] == w["prompt"] and g["options"] == w["options"] and g["gold"] == w["gold"]
        assert g["generation"] == w["generation"]
        assert g["logprobs"] == pytest.approx(w["logprobs"], abs=2e-4)


def test_adapter_after_fp32_steps_pinned(tiny_model_dir, bundled_model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    data = tmp_path / "d.jsonl"
    data_bytes(bundled_model_dir, data, 0)
    got = adapter_tensors(tiny_model_dir, data, tmp_path / "lora")
    want = load_file(str(FIX / "adapter_3_steps.safetensors"))
    assert set(got) == set(want)
    for k in want:
        assert torch.allclose(got[k], want[k], atol=1e-5, rtol=1e-4), k


if __name__ == "__main__" and "--write" in sys.argv:  # regenerate the pins (see the docstring)
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from safetensors.torch import save_file

    from symtune.models import prepare_bundled

    bundled = str(prepare_bundled("smollm2-135m"))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        import conftest  # noqa: F401  (offline env)
        from helpers import build_tiny_model

        tiny = build_tiny_model(bundled, d / "tiny")
        shas = {str(s): hashlib.sha256(data_bytes(bundled, d / f"d{s}.jsonl", s)).hexdigest() for s in (0, 7)}
        (FIX / "data_sha256.json").write_text(json.dumps(shas, indent=2) + "\n")
        (FIX / "eval_rows.json").write_text(json.dumps(eval_rows(str(tiny), d / "ev"), indent=1) + "\n")
        save_file(adapter_tensors(str(tiny), d / "d0.jsonl", d / "lora"), str(FIX / "adapter_3_steps.safetensors"))
    print("pins written to", FIX)
