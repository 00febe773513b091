"""Model cards (symtune/card.py): Hub metadata, recipe and model-index, read back with huggingface_hub."""


import pytest

from symtune.card import base_model_id, write_model_card
from symtune.errors import SymtuneError
from helpers import SUMMARY, write_results, write_train_meta


def _train_folder(tmp_path, **cfg):
    return write_train_meta(tmp_path / "train", **cfg)


def test_card_metadata_and_recipe_without_results(tmp_path):
    from huggingface_hub import ModelCard

    out = _train_folder(tmp_path)
    path = write_model_card(out)
    card = ModelCard.load(path)
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert card.data.library_name == "peft" and "symbol-tuning" in card.data.tags
    assert card.data.license == "apache-2.0"
    assert card.data.eval_results is None  # no model-index without an evaluation
    assert "| lora_r | `16` |" in card.text and "| steps | `300` |" in card.text
    assert "arbitrary symbols" in card.text and "http" not in card.text  # link-free paper summary
    assert "optimizer steps done: 300" in card.text


def test_card_model_index_from_results_and_full_method(tmp_path):
    from huggingface_hub import ModelCard

    out = _train_folder(tmp_path, method="full")
    write_model_card(out, results=write_results(tmp_path / "eval_tuned"))
    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "transformers" and "lora_r" not in card.text
    got = {r.dataset_config: r.metric_value for r in card.data.eval_results}
    assert got == {k: round(v, 4) for k, v in SUMMARY.items() if k not in ("chance", "metric")}
    assert all(r.metric_type == "accuracy" for r in card.data.eval_results)
    assert "## Evaluation" in card.text and "| flipped | 0.479 |" in card.text
    assert "model-index" in (out / "README.md").read_text()


def test_base_model_ids(tmp_path):
    assert base_model_id("gemma3-270m") == ("google/gemma-3-270m", "gemma")
    assert base_model_id("org/some-model") == ("org/some-model", "other")
    assert base_model_id(str(tmp_path)) == (None, "other")  # local folder: no Hub id to claim
    assert base_model_id("not a//valid id") == (None, "other")


def test_card_errors_are_one_line(tmp_path):
    with pytest.raises(SymtuneError, match="symtune_train.json"):
        write_model_card(tmp_path)
    out = _train_folder(tmp_path)
    with pytest.raises(SymtuneError, match="results.json"):
        write_model_card(out, results=tmp_path / "nowhere")
