"""The data builder on the real bundled tasks and the real bundled model's tokenizer."""

import json

import pytest

from symtune.cli import main

pytestmark = pytest.mark.integration


def test_build_default_mixture_with_bundled_tokenizer(tmp_path, capsys, bundled_model_dir):
    out = tmp_path / "data.jsonl"
    assert main(["data", "--out", str(out), "--n-prompts", "150", "--seed", "3", "--max-length", "768"]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 150
    stats = json.loads((tmp_path / "data.stats.json").read_text())
    from symtune.tasks.registry import default_eval_tasks, default_tune_tasks

    tune = {t.name for t in default_tune_tasks()}
    assert set(stats["stats"]["tasks"]) <= tune and len(stats["stats"]["tasks"]) >= 8
    assert not set(stats["stats"]["tasks"]) & {t.name for t in default_eval_tasks()}
    assert set(stats["stats"]["symbol_families"]) == {"int", "letters", "word"}
    for r in rows:
        assert r["meta"]["n_tokens"] <= 768 and r["completion"].startswith(" ")
    # same seed, same bytes
    again = tmp_path / "again.jsonl"
    assert main(["data", "--out", str(again), "--n-prompts", "150", "--seed", "3", "--max-length", "768"]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_preview_and_bad_task(capsys):
    assert main(["data", "--preview", "2", "--n-prompts", "2", "--max-length", "768"]) == 0
    out = capsys.readouterr().out
    assert out.count("--- task=") == 2
    assert main(["data", "--preview", "1", "--tasks", "tweets_pn"]) == 2
    assert "held-out evaluation task" in capsys.readouterr().err
    assert main(["data", "--preview", "1", "--tasks", "no_such_task"]) == 2
    assert "no_such_task" in capsys.readouterr().err


def test_user_file_tuning_data(tmp_path):
    import csv

    f = tmp_path / "mine.csv"
    with open(f, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sentence", "y"])
        for i in range(40):
            w.writerow([f"this is sample number {i} of class {i % 2}", ["cat", "dog"][i % 2]])
    out = tmp_path / "d.jsonl"
    assert main(["data", "--out", str(out), "--n-prompts", "10", "--task-files", str(f),
                 "--text-col", "sentence", "--label-col", "y"]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 10 and all(len(r["meta"]["symbols"]) == 2 for r in rows)
    assert main(["data", "--out", str(tmp_path / "e.jsonl"), "--task-files", str(f), "--text-col", "text"]) == 2
    assert not (tmp_path / "e.jsonl").exists()


def test_recipe_levers_on_bundled_tasks(tmp_path):
    """The recipe's data levers through the CLI on real tasks: a third (7-class) tuning task with class
    subsets, mixed symbol families under a 4-token cap, a natural-label share, 384-token prompts."""
    out = tmp_path / "mix.jsonl"
    assert main(["data", "--out", str(out), "--n-prompts", "120", "--seed", "1", "--max-length", "384",
                 "--tasks", "multiemo_pn,multiemo_domain,multiemo_lang", "--min-exemplars", "2",
                 "--max-exemplars", "3", "--class-subsets", "--symbol-families", "int,letters,word",
                 "--max-symbol-tokens", "4", "--symbol-fraction", "0.75"]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    stats = json.loads((tmp_path / "mix.stats.json").read_text())["stats"]
    assert set(stats["tasks"]) == {"multiemo_pn", "multiemo_domain", "multiemo_lang"}
    assert set(stats["symbol_families"]) == {"int", "letters", "word"}
    assert 0.1 < stats["label_modes"]["natural"] / 120 < 0.4
    lang = [r["meta"] for r in rows if r["meta"]["task"] == "multiemo_lang" and r["meta"]["label_mode"] == "symbols"]
    assert lang and len({len(m["classes"]) for m in lang}) > 2  # subsets of several sizes out of 7
    for r in rows:
        assert r["meta"]["n_tokens"] <= 384
        if r["meta"]["label_mode"] == "natural":
            assert len(r["meta"]["classes"]) == len(r["meta"]["labels"])
