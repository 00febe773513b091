"""Issue 13, items 4, 6, 7, 8, 9, 10, 13, 15: bad inputs give one line naming the file, row or option
(exit 2, no traceback) or are normalised by the documented rule (docs/PROMISES.md)."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import texts, train_rows, two_class_csv, write_csv, write_jsonl

from symtune.cli import main
from symtune.errors import SymtuneError
from symtune.tasks.registry import task_from_file


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len([x for x in err.splitlines() if "error" in x.lower()]) == 1, err
    err = next(x for x in err.splitlines() if x.startswith("symtune ") and ": error: " in x)
    for n in needles:
        assert n in err, (n, err)
    return err


# ---------------------------------------------------------------- item 4: label types

def _label_rows(labels_a, labels_b, n=8):
    rows = []
    for i, t in enumerate(texts(n, "alpha")):
        rows.append({"text": t, "label": labels_a[i % len(labels_a)]})
    for i, t in enumerate(texts(n, "beta")):
        rows.append({"text": t, "label": labels_b[i % len(labels_b)]})
    return rows


@pytest.mark.parametrize("a, b, want", [
    ([1, 1.0], [0, 0.0], ["0", "1"]),                  # 1 and 1.0 are one class, written "1"
    ([2], [10], ["2", "10"]),                           # numbers keep numeric order
    ([True], [False], ["false", "true"]),              # JSON booleans are written true / false
    ([0.5], [1.5], ["0.5", "1.5"]),
    (["pos", "pos ", " pos"], ["neg", "neg\t"], ["neg", "pos"]),  # surrounding whitespace stripped
])
def test_label_values_normalise_to_one_string_per_class(tmp_path, a, b, want):
    f = write_jsonl(tmp_path / "t.jsonl", _label_rows(a, b))
    task = task_from_file(f, text_col="text", label_col="label")
    assert task.labels == want
    exs = task.examples("train") + task.examples("validation")
    assert len(exs) == 16 and {e.label for e in exs} == {0, 1}


@pytest.mark.parametrize("a, b, needle", [
    ([True, 1], [False], "mixes booleans and numbers"),
    ([[1, 2]], [0], "holds a list"),
    ([{"x": 1}], [0], "holds a mapping"),
    (["Neg"], ["neg"], "differ only by case"),
    ([float("nan")], [0], "not a finite number"),
])
def test_ambiguous_labels_are_refused_naming_a_row(tmp_path, a, b, needle):
    rows = _label_rows(a, b)
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SymtuneError, match=needle) as e:
        task_from_file(str(path), text_col="text", label_col="label")
    assert "line " in str(e.value) and str(path) in str(e.value)  # JSON lines are named by their line


@pytest.fixture()
def mixed_labels_file(tmp_path):
    return write_jsonl(tmp_path / "mixed.jsonl", _label_rows([True, 1], [False]))


@pytest.mark.parametrize("verb", ["data", "eval", "export"])
def test_label_errors_are_one_line_in_every_verb(verb, mixed_labels_file, tiny_model_dir, tmp_path, capsys):
    argv = {
        "data": ["data", "--model", tiny_model_dir, "--task-files", mixed_labels_file, "--preview", "1"],
        "eval": ["eval", "--model", tiny_model_dir, "--task-file", mixed_labels_file, "--k", "1", "--limit", "2",
                 "--no-progress", "--out", str(tmp_path / "ev")],
        "export": ["export", "lm-eval", "--model", tiny_model_dir, "--task-file", mixed_labels_file, "--k", "1",
                   "--out", str(tmp_path / "ex")],
    }[verb]
    assert main(argv) == 2
    _one_line_error(capsys, "mixed.jsonl", "mixes booleans and numbers")


def test_mixed_numeric_labels_work_in_data_and_eval(tiny_model_dir, tmp_path, capsys):
    f = write_jsonl(tmp_path / "nums.jsonl", _label_rows([1, 1.0], [0, 0.0], n=10))
    assert main(["data", "--model", tiny_model_dir, "--task-files", f, "--preview", "1", "--n-prompts", "1",
                 "--label-mode", "natural", "--min-exemplars", "1", "--max-exemplars", "2"]) == 0
    out = capsys.readouterr().out
    assert "1.0" not in out and ("Output: 1" in out or "Output: 0" in out or "1" in out)
    assert main(["eval", "--model", tiny_model_dir, "--task-file", f, "--k", "1", "--limit", "2", "--no-progress",
                 "--settings", "labels", "--suite", "icl", "--out", str(tmp_path / "ev")]) == 0
    doc = json.loads((tmp_path / "ev" / "results.json").read_text())
    rows = [json.loads(x) for x in next((tmp_path / "ev").glob("samples_*.jsonl")).read_text().splitlines()]
    assert doc["n_prompts"] == 2 and all(r["options"] == ["0", "1"] for r in rows)


# ---------------------------------------------------------------- item 10: whitespace and case variants

def test_whitespace_variants_are_one_class_and_case_variants_are_named(tmp_path, capsys, tiny_model_dir):
    rows = [(t, "pos") for t in texts(6, "a")] + [(t, "pos ") for t in texts(6, "b")] + \
           [(t, "neg") for t in texts(6, "c")]
    task = task_from_file(write_csv(tmp_path / "ws.csv", rows), text_col="text", label_col="label")
    assert task.labels == ["neg", "pos"] and "pos ," not in task.instruction
    rows += [(t, "Neg") for t in texts(3, "d")]
    f = write_csv(tmp_path / "case.csv", rows)
    assert main(["data", "--model", tiny_model_dir, "--task-files", f, "--preview", "1"]) == 2
    err = _one_line_error(capsys, "case.csv", "differ only by case", "'Neg'", "'neg'")
    assert "row " in err


# ---------------------------------------------------------------- item 15: whitespace-only texts

def test_blank_texts_are_dropped_and_counted(tmp_path, capsys):
    rows = [(t, "x") for t in texts(6, "a")] + [(t, "y") for t in texts(6, "b")] + [("   ", "x"), ("\t\n", "y")]
    task = task_from_file(write_csv(tmp_path / "blank.csv", rows), text_col="text", label_col="label")
    exs = task.examples("train") + task.examples("validation")
    assert len(exs) == 12 and all(e.text.strip() for e in exs)
    err = capsys.readouterr().err
    assert "blank.csv" in err and "2 rows" in err and "empty" in err


def test_a_task_file_that_is_a_folder(tmp_path):
    with pytest.raises(SymtuneError, match="is a folder"):
        task_from_file(str(tmp_path), text_col="text", label_col="label")


# ---------------------------------------------------------------- item 8: JSONL line numbers

@pytest.mark.parametrize("bad_line", [1, 5, 18])
def test_malformed_jsonl_names_the_right_line(tmp_path, bad_line):
    lines = [json.dumps({"text": t, "label": i % 2}) for i, t in enumerate(texts(20, "z"))]
    lines[bad_line - 1] = '{"text": "broken", "label": '
    f = tmp_path / "bad.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SymtuneError, match=rf"bad.jsonl.*\(line {bad_line}:"):
        task_from_file(str(f), text_col="text", label_col="label")


def test_malformed_jsonl_line_number_counts_blank_lines(tmp_path):
    f = tmp_path / "gaps.jsonl"
    f.write_text('{"text": "a", "label": 0}\n\n\n{"text": "b", "label": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(SymtuneError, match=r"\(line 5:"):
        task_from_file(str(f), text_col="text", label_col="label")


def test_malformed_json_array_names_its_line(tmp_path):
    f = tmp_path / "arr.json"
    f.write_text('\n\n[{"text": "a", "label": 0},\n {"text": "b", "label": 1},\n {"text": "c" "label": 1}]\n')
    with pytest.raises(SymtuneError, match=r"\(line 5:"):
        task_from_file(str(f), text_col="text", label_col="label")


# ---------------------------------------------------------------- item 9: duplicates of the query

def _dup_task(tmp_path, n_distinct):
    """Class a: 10 copies of one text + n_distinct others in train; that text is also a query."""
    dup = "the very same sentence"
    rows = [(dup, "a", "train")] * 10 + [(t, "a", "train") for t in texts(n_distinct, "a")]
    rows += [(t, "b", "train") for t in texts(19, "b")]
    rows += [(dup, "a", "validation"), ("another a query", "a", "validation"), ("a b query", "b", "validation")]
    f = write_csv(tmp_path / "dups.csv", rows, header=("text", "label", "split"))
    return task_from_file(f, text_col="text", label_col="label", split_col="split"), dup


def _icl(task, tiny_model_dir, k=4):
    from symtune.eval.config import EvalConfig
    from symtune.eval.scoring import Encoder
    from symtune.prompting.fit import Budget
    from symtune.eval.suites import icl_items
    from symtune.models import load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    cfg = EvalConfig(model=tiny_model_dir, k=k, limit=100, settings=["labels"])
    return icl_items(task, cfg, tok, Budget(Encoder(tok), 2048))


@pytest.mark.parametrize("seed_shift", range(3))
def test_copies_of_the_query_text_do_not_starve_the_exemplar_draw(tiny_model_dir, tmp_path, seed_shift):
    """19 training rows of one class, 10 of them one text that is also a query: 9 others exist, k=4 works."""
    task, dup = _dup_task(tmp_path, 9)
    task.name += f"_{seed_shift}"  # another draw per name
    items = _icl(task, tiny_model_dir)
    assert len(items) == 3 and all(it.meta["n_exemplars"] == 8 for it in items)
    dup_item = next(it for it in items if it.doc_id == 0)
    assert dup_item.prompt.count(dup) == 1  # only as the query: no copy of it among the exemplars


def test_too_few_distinct_exemplars_counts_what_is_usable(tiny_model_dir, tmp_path):
    task, _ = _dup_task(tmp_path, 2)
    with pytest.raises(SymtuneError, match=r"12 examples .* 10 are copies of query text .*leaving 2 usable "
                                           r"exemplars, fewer than k=4"):
        _icl(task, tiny_model_dir)


# ---------------------------------------------------------------- item 7 and 15: ranges and encodings

def test_training_data_that_is_not_utf8_names_the_line(tiny_model_dir, tmp_path, capsys):
    good = "".join(json.dumps(r) + "\n" for r in train_rows(4)).encode()
    (tmp_path / "latin.jsonl").write_bytes(good + '{"prompt": "caf\u00e9 Output:", "completion": " A"}\n'.encode("latin-1"))
    assert main(["train", "--model", tiny_model_dir, "--data", str(tmp_path / "latin.jsonl"), "--steps", "1",
                 "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "latin.jsonl:5", "not UTF-8")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--task-cap", "0"], "--task-cap must be at least 1"),
    (["--task-cap", "-5"], "--task-cap must be at least 1"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--workers", "-2"], "--workers must be at least 1"),
    (["--max-symbol-tokens", "0"], "--max-symbol-tokens must be at least 1"),
    (["--preview", "-1"], "--preview must be 0 or more"),
    (["--n-prompts", "0"], "--n-prompts must be at least 1"),
])
def test_data_option_ranges(argv, needle, tiny_model_dir, tmp_path, capsys):
    f = two_class_csv(tmp_path / "t.csv")
    out = tmp_path / "d.jsonl"
    assert main(["data", "--model", tiny_model_dir, "--task-files", f, "--out", str(out), *argv]) == 2
    _one_line_error(capsys, needle)
    assert not out.exists() and not list(tmp_path.glob(".d.jsonl*"))


@pytest.mark.parametrize("argv, needle", [
    (["--max-tokens", "0"], "--max-tokens must be at least 1"),
    (["--max-tokens", "-1"], "--max-tokens must be at least 1"),
    (["--pool-size", "0"], "--pool-size must be at least 1"),
    (["-n", "0"], "-n must be at least 1"),
])
def test_symbols_option_ranges(argv, needle, capsys):
    assert main(["symbols", *argv]) == 2
    _one_line_error(capsys, needle)


@pytest.mark.parametrize("threads", ["-1", "-8"])
def test_eval_negative_threads(threads, tiny_model_dir, tmp_path, capsys):
    f = two_class_csv(tmp_path / "t.csv")
    assert main(["eval", "--model", tiny_model_dir, "--task-file", f, "--threads", threads,
                 "--out", str(tmp_path / "ev")]) == 2
    _one_line_error(capsys, "--threads must be at least 1")
    assert not (tmp_path / "ev").exists()


# ---------------------------------------------------------------- item 6 and 3: damaged or diverged adapters

def _damaged(adapter, tmp_path, how):
    from helpers import adapter_copy

    a, w, c = adapter_copy(adapter, tmp_path)
    if how == "truncated weights":
        w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
        return a, "adapter_model.safetensors is damaged"
    if how == "garbage weights":
        w.write_bytes(b"\x00" * 64)
        return a, "adapter_model.safetensors is damaged"
    if how == "truncated config":
        c.write_text(c.read_text()[:40])
        return a, "adapter_config.json is damaged"
    if how == "config not an object":
        c.write_text("[1, 2]")
        return a, "adapter_config.json does not hold a JSON object"
    if how == "no weights":
        w.unlink()
        return a, "has no adapter_model.safetensors"
    if how == "nan weights":
        from safetensors.torch import load_file, save_file

        t = load_file(str(w))
        k = sorted(t)[0]
        t[k][0] = float("nan")
        save_file(t, str(w), metadata={"format": "pt"})
        return a, "non-finite weights"
    raise AssertionError(how)


DAMAGE = ["truncated weights", "garbage weights", "truncated config", "config not an object", "no weights",
          "nan weights"]


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("verb", ["eval", "merge"])
def test_damaged_adapter_is_one_line_naming_the_file(verb, how, adapter, tiny_model_dir, tmp_path, capsys):
    from helpers import adapter_argv

    a, needle = _damaged(adapter, tmp_path, how)
    argv, out = adapter_argv(verb, a, tiny_model_dir, tmp_path)
    assert main(argv) == 2
    err = _one_line_error(capsys, needle)
    assert str(a) in err
    assert not out.exists()


def test_nan_scores_are_refused_naming_the_model(tiny_model_dir, tmp_path, capsys):
    """A model whose weights are NaN (no adapter to blame) scores NaN: eval refuses, writes no results."""
    import torch
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        m.model.norm.weight.fill_(float("nan"))
    bad = tmp_path / "nanmodel"
    m.save_pretrained(bad)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (Path(tiny_model_dir) / name).is_file():
            shutil.copy(Path(tiny_model_dir) / name, bad / name)
    f = two_class_csv(tmp_path / "t.csv")
    out = tmp_path / "ev"
    assert main(["eval", "--model", str(bad), "--task-file", f, "--k", "1", "--limit", "2", "--no-progress",
                 "--suite", "icl", "--out", str(out)]) == 2
    _one_line_error(capsys, "non-finite log-probs", str(bad))
    assert not (out / "results.json").exists()


# ---------------------------------------------------------------- item 13: report on a damaged results.json

@pytest.mark.parametrize("layout", ["bare eval folder", "run folder"])
def test_report_names_an_unreadable_results_file(tmp_path, capsys, layout):
    ev = tmp_path / "run" / ("eval_tuned" if layout == "run folder" else "")
    ev.mkdir(parents=True, exist_ok=True)
    (ev / "results.json").write_text('{"config": {"model": "x"}, "results": {"icl": {"labels": {"t": {"acc"')
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "rep")]) == 2
    err = _one_line_error(capsys, "results.json unreadable", "holds no readable results")
    assert "holds no results" not in err
