"""`symtune data --format` (prompt-completion, messages, parquet, hf-dataset) and what `symtune train` reads,
including a local stand-in for tasksource's icl-symbol-tuning-instruct (task, inputs, targets, symbols)."""

import json

import pytest

from symtune.cli import main
from symtune.errors import SymtuneError

ARGS = ["--n-prompts", "6", "--seed", "1", "--max-length", "256"]


@pytest.fixture(scope="module")
def built(tmp_path_factory, bundled_model_dir):
    """The same rows written in every format (bundled tokenizer drives the builder)."""
    from transformers import AutoTokenizer

    from symtune.data.config import DataConfig
    from symtune.data.run import build_dataset

    root = tmp_path_factory.mktemp("formats")
    out = {"prompt-completion": root / "pc.jsonl", "messages": root / "msg.jsonl",
           "parquet": root / "d.parquet", "hf-dataset": root / "d_hf"}
    assert main(["data", "--out", str(out["parquet"]), "--format", "parquet", *ARGS]) == 0  # the command
    tok = AutoTokenizer.from_pretrained(bundled_model_dir)
    for fmt in ("prompt-completion", "messages", "hf-dataset"):  # the library call, sharing one tokenizer
        build_dataset(DataConfig(n_prompts=6, seed=1, max_length=256, format=fmt), out[fmt], tokenizer=tok,
                      progress=False)
    return out


def _base(built):
    return [json.loads(x) for x in built["prompt-completion"].read_text().splitlines()]


def test_messages_is_the_chat_format(built):
    base = _base(built)
    rows = [json.loads(x) for x in built["messages"].read_text().splitlines()]
    assert len(rows) == len(base) == 6
    for r, b in zip(rows, base):
        assert [m["role"] for m in r["messages"]] == ["user", "assistant"]
        assert r["messages"][0]["content"] == b["prompt"]
        assert r["messages"][1]["content"] == b["completion"].strip() and r["meta"] == b["meta"]


def test_parquet_and_hf_dataset_hold_the_same_rows(built):
    import datasets

    base = _base(built)
    for ds in (datasets.Dataset.from_parquet(str(built["parquet"])), datasets.load_from_disk(str(built["hf-dataset"]))):
        assert ds.column_names == ["prompt", "completion", "meta"]
        assert ds["prompt"] == [b["prompt"] for b in base] and ds["completion"] == [b["completion"] for b in base]
        assert [json.loads(m) for m in ds["meta"]] == [b["meta"] for b in base]


def test_train_reads_every_format_as_the_same_rows(built):
    from symtune.train.data import load_rows

    def strip(rows):
        return [(r["prompt"], r["completion"], r["meta"]) for r in rows]

    ref = strip(load_rows(str(built["prompt-completion"])))
    for fmt in ("messages", "parquet", "hf-dataset"):
        assert strip(load_rows(str(built[fmt]))) == ref, fmt


def test_parquet_same_seed_same_bytes(built, tmp_path):
    again = tmp_path / "again.parquet"
    from symtune.data.config import DataConfig
    from symtune.data.run import build_dataset

    build_dataset(DataConfig(n_prompts=6, seed=1, max_length=256, format="parquet"), again, progress=False)
    assert again.read_bytes() == built["parquet"].read_bytes()
    assert (tmp_path / "again.stats.json").is_file()


def _tasksource_rows():
    """Rows shaped like tasksource/icl-symbol-tuning-instruct (its published columns)."""
    rows = []
    for i in range(6):
        a, b = ("foo", "bar") if i % 2 else ("lamp", "river")
        shots = f"great film\n{a}\n\nawful plot\n{b}\n\nnice acting\n{a}\n\n"
        rows.append({"task": f"toy/{i % 3}", "inputs": shots + ("boring story" if i % 2 else "lovely story") + "\n",
                     "targets": b if i % 2 else a, "symbols": [a, b]})
    return rows


def test_tasksource_rows_as_tuning_input(tmp_path, tiny_model_dir):
    import datasets

    from symtune.train import run_training
    from symtune.train.config import TrainConfig
    from symtune.train.data import load_rows

    path = tmp_path / "icl-symbol-tuning-instruct.parquet"
    datasets.Dataset.from_list(_tasksource_rows()).to_parquet(str(path))
    rows = load_rows(str(path))
    assert rows[0]["prompt"].endswith("lovely story\n") and rows[0]["completion"] == "lamp"  # no space after \n
    assert rows[1]["meta"]["symbols"] == ["foo", "bar"] and rows[1]["meta"]["task"] == "toy/1"
    jsonl = tmp_path / "ts.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in _tasksource_rows()))
    assert [(r["prompt"], r["completion"]) for r in load_rows(str(jsonl))] == [(r["prompt"], r["completion"]) for r in rows]
    meta = run_training(TrainConfig(model=tiny_model_dir, data=str(path), out=str(tmp_path / "o"), steps=2,
                                    batch_size=2, warmup_steps=0, save_every=0, max_length=256), quiet=True)
    assert meta["status"] == "complete" and meta["data"]["kept"] == 6 and meta["data"]["completion_tokens"] > 0
    with pytest.raises(SymtuneError, match="exemplar_labels"):  # no label positions: dense loss is refused
        run_training(TrainConfig(model=tiny_model_dir, data=str(path), out=str(tmp_path / "d"), steps=1,
                                 loss="dense", save_every=0, max_length=256), quiet=True)


def test_bad_format_and_rows_are_one_line(tmp_path, capsys):
    import datasets

    from symtune.train.data import load_rows

    assert main(["data", "--out", str(tmp_path / "x.jsonl"), "--format", "csv", *ARGS]) == 2
    assert "csv" in capsys.readouterr().err
    bad = tmp_path / "bad.parquet"
    datasets.Dataset.from_list([{"text": "a", "label": 1}]).to_parquet(str(bad))
    with pytest.raises(SymtuneError, match="row 1 has no string 'prompt'"):
        load_rows(str(bad))


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_bundled_model_trains_on_messages_data(built, tmp_path, bundled_model_dir):
    assert main(["train", "--model", bundled_model_dir, "--data", str(built["messages"]), "--out", str(tmp_path / "m"),
                 "--steps", "1", "--batch-size", "1", "--max-length", "256", "--save-every", "0"]) == 0
    meta = json.loads((tmp_path / "m" / "symtune_train.json").read_text())
    assert meta["data"]["kept"] + meta["data"]["dropped_overlong"] == 6 and meta["final_loss"] > 0
