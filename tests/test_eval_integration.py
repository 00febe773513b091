"""The real bundled model (SmolLM2-135M-Instruct): exactness and batch invariance on real ICL
prompts, generation exact match, and a short end-to-end run."""

import json

import pytest
import torch

from symtune.eval.config import EvalConfig
from reference_scoring import naive_logprobs

from symtune.eval.scoring import Request, Scorer

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, scope="module")
def _threads():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def real(bundled_model_dir):
    from symtune.models import load_model, load_tokenizer

    return load_model(bundled_model_dir), load_tokenizer(bundled_model_dir)


@pytest.fixture(scope="module")
def prompts(bundled_model_dir):
    from symtune.eval.runner import prepare

    cfg = EvalConfig(model=bundled_model_dir, tasks=["snips_3way"], settings=["labels", "symbols"], limit=2, k=1)
    items = prepare(cfg)[0]
    return [Request(it.prompt, it.continuations) for it in items]


def test_real_model_matches_reference_and_is_batch_invariant(real, prompts):
    model, tok = real
    one = Scorer(model, tok, batch_size=1).run(prompts)
    four = Scorer(model, tok, batch_size=4).run(prompts)
    for r, a, b in zip(prompts, one, four):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)
    r, a = prompts[-1], one[-1]  # the naive reference on one prompt (all its options)
    for c, lp in zip(r.continuations, a.logprobs):
        assert lp == pytest.approx(naive_logprobs(model, Scorer(model, tok), r.context, c), abs=1e-4)


def test_real_model_generation_exact_match(real):
    model, tok = real
    reqs = [Request("Input: [1, 2, 3]\nOutput: [1, 2, 3]\n\nInput: [4, 5]\nOutput: [4, 5]\n\n"
                    "Input: [0, 6]\nOutput: [0, 6]\n\nInput: [7, 8, 9]\nOutput:"),
            Request("Input: cat\nOutput: animal\n\nInput: rose\nOutput: plant\n\nInput: dog\nOutput: animal\n\n"
                    "Input: tulip\nOutput: plant\n\nInput: horse\nOutput:")]
    assert Scorer(model, tok, batch_size=2).generate(reqs, max_new_tokens=12) == ["[7, 8, 9]", "animal"]


def test_real_model_end_to_end(bundled_model_dir, tmp_path):
    from symtune.eval.runner import run_eval

    cfg = EvalConfig(model=bundled_model_dir, tasks=["snips_weather_music"], settings=["labels"], limit=4, k=1,
                     batch_size=4, threads=1, progress=False)
    doc = run_eval(cfg, tmp_path, log=lambda s: None)
    m = doc["results"]["icl"]["labels"]["snips_weather_music"]
    assert m["n"] == 4 and doc["scoring"]["method"] == "packed"
    rows = [json.loads(x) for x in (tmp_path / "samples_icl_snips_weather_music.jsonl").read_text().splitlines()]
    assert all(r["options"] == ["get_weather", "play_music"] for r in rows)
