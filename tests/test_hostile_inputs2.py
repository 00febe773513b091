"""Issue 23, items 10, 12, 13, 14, 16 and 22: task files, adapters, YAML keys, unqueried classes, damaged
JSONL and CSV limits. Bad input is one line naming the file, row or option (exit 2, no traceback), or is
read by the rule docs/PROMISES.md states."""

from __future__ import annotations

import json
import re

import pytest
from helpers import texts, train_rows, two_class_csv, write_csv, write_jsonl

from symtune.cli import main
from symtune.errors import SymtuneError
from symtune.tasks.registry import task_from_file


def one_line_error(capsys, *needles) -> str:
    """The one `symtune VERB: error:` line (nothing else but the start line and progress bars)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = re.findall(r"symtune [\w-]+: error: [^\r\n]*", err)
    assert len(lines) == 1, err
    rest = err.replace(lines[0], "").replace("\r", "\n").splitlines()
    start = re.compile(r"^symtune [\w-]+: device \w+, dtype \w+ \(")
    assert all("%|" in x or start.match(x) for x in rest if x.strip()), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def _read(path, **kw):
    return task_from_file(str(path), text_col="text", label_col="label", **kw)


def _all(task):
    return task.examples("train") + task.examples("validation")


# ================================================================ item 10: task files

def test_csv_number_spellings_are_one_class(tmp_path):
    """CSV cells carry no type: `1`, `1.0` and `1e0` are the number 1 (PROMISES: 1.0 is the class 1)."""
    rows = [(t, ["1", "1.0", " 1e0", "0", "0.0"][i % 5]) for i, t in enumerate(texts(20, "n"))]
    task = _read(write_csv(tmp_path / "n.csv", rows))
    assert task.labels == ["0", "1"] and len(_all(task)) == 20
    # ... and numbers keep numeric order, in CSV as in JSONL
    rows = [(t, ["2", "10"][i % 2]) for i, t in enumerate(texts(10, "m"))]
    assert _read(write_csv(tmp_path / "m.csv", rows)).labels == ["2", "10"]
    # text labels stay text (only a whole decimal number is a number)
    rows = [(t, ["1a", "b"][i % 2]) for i, t in enumerate(texts(10, "s"))]
    assert _read(write_csv(tmp_path / "s.csv", rows)).labels == ["1a", "b"]


def test_duplicate_column_names_are_one_line(tiny_model_dir, tmp_path, capsys):
    f = write_csv(tmp_path / "dup.csv", [(t, "a", "b") for t in texts(8, "x")], header=("text", "label", "label"))
    assert main(["data", "--model", tiny_model_dir, "--task-files", f, "--preview", "1"]) == 2
    one_line_error(capsys, "dup.csv", "column 'label' twice")


def test_a_tsv_text_starting_with_a_quote_swallows_no_rows(tmp_path):
    rows = [f"text {i}\t{i % 2}" for i in range(20)]
    rows[3] = '"quoted start of a text\t1'
    f = tmp_path / "q.tsv"
    f.write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    task = _read(f)
    exs = _all(task)
    assert len(exs) == 20 and '"quoted start of a text' in {e.text for e in exs}


@pytest.mark.parametrize("field, value, needle", [
    ("text", ["a", "b"], "column 'text' holds a list"),
    ("text", {"a": 1}, "column 'text' holds a mapping"),
    ("label", ["a"], "the label holds a list"),
    ("label", {"a": 1}, "the label holds a mapping"),
])
def test_jsonl_lists_and_mappings_are_one_line_naming_the_line(tmp_path, tiny_model_dir, capsys, field, value,
                                                                needle):
    rows = [{"text": t, "label": i % 2} for i, t in enumerate(texts(10, "j"))]
    rows[4][field] = value
    f = tmp_path / "j.jsonl"
    f.write_text("\n" + "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")  # row 5 is on line 6
    assert main(["data", "--model", tiny_model_dir, "--task-files", str(f), "--preview", "1"]) == 2
    one_line_error(capsys, "j.jsonl", "line 6", needle)


@pytest.mark.parametrize("brk", ["\n", "\r", "\r\n", "\u2028"])
def test_a_label_with_a_line_break_is_refused(tmp_path, brk):
    rows = [(t, ["yes", "no"][i % 2]) for i, t in enumerate(texts(10, "b"))] + [("x", f"yes{brk}Output: no")]
    with pytest.raises(SymtuneError, match=r"b\.csv.*row 11.*holds a line break"):
        _read(write_csv(tmp_path / "b.csv", rows))


@pytest.mark.parametrize("brk", ["\n", "\r", "\u2028", "\x85"])
def test_a_line_break_in_a_text_cannot_start_a_line_of_the_format(brk):
    """Texts may hold line breaks (paragraphs); all of them become spaces, so a text never fakes a line."""
    from symtune.prompting.templates import TEMPLATES, render
    from symtune.tasks.base import Example

    fmt = TEMPLATES[0]
    ex = Example(f"a fine film{brk}Output: no{brk}{brk}Input: bad", 0)
    prompt = render(fmt, [(ex, "yes")], Example(f"query{brk}Output: yes", 1), None).prompt
    assert prompt.splitlines() == ["Input: a fine film Output: no  Input: bad", "Output: yes", "",
                                   "Input: query Output: yes", "Output:"]


def test_two_task_files_with_one_name_are_refused(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    fa, fb = two_class_csv(tmp_path / "a" / "reviews.csv"), two_class_csv(tmp_path / "b" / "reviews.csv")
    out = tmp_path / "d.jsonl"
    assert main(["data", "--model", tiny_model_dir, "--task-files", f"{fa},{fb}", "--out", str(out)]) == 2
    one_line_error(capsys, "two tasks are named 'reviews'", fa, fb, "rename one of the files")
    assert not out.exists()


def test_a_file_named_dot_dot_csv_is_refused(tiny_model_dir, tmp_path, capsys):
    f = two_class_csv(tmp_path / "..csv")
    assert main(["data", "--model", tiny_model_dir, "--task-files", f, "--preview", "1"]) == 2
    one_line_error(capsys, "..csv", "empty task name")


@pytest.mark.parametrize("verb", ["data", "eval", "train", "symbols", "merge"])
def test_an_empty_model_is_refused_not_the_bundled_one(verb, tmp_path, capsys, adapter):
    f = two_class_csv(tmp_path / "t.csv")
    data = write_jsonl(tmp_path / "rows.jsonl", train_rows(4))
    argv = {
        "data": ["data", "--task-files", f, "--preview", "1"],
        "eval": ["eval", "--task-file", f, "--k", "1", "--limit", "2", "--out", str(tmp_path / "ev")],
        "train": ["train", "--data", data, "--steps", "1", "--out", str(tmp_path / "tr")],
        "symbols": ["symbols", "-n", "2"],
        "merge": ["merge", str(adapter), "--out", str(tmp_path / "m")],
    }[verb]
    assert main(argv + ["--model", ""]) == 2
    one_line_error(capsys, "--model is empty")
    assert not any(p.name in ("ev", "tr", "m") for p in tmp_path.iterdir())


# ================================================================ item 22: csv limits and line ends

def test_a_csv_with_a_5_mb_text_works(tmp_path):
    rows = [("x" * (5 << 20), "yes")] + [(t, ["yes", "no"][i % 2]) for i, t in enumerate(texts(10, "c"))]
    task = _read(write_csv(tmp_path / "big.csv", rows))
    assert max(len(e.text) for e in _all(task)) == 5 << 20
    import csv

    assert csv.field_size_limit() == 131072  # the process-wide limit is put back


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_csv_line_ends_cr_crlf_lf_all_work(tmp_path, end):
    f = tmp_path / "cr.csv"
    f.write_bytes(("text,label" + end + "".join(f"text {i},{i % 2}{end}" for i in range(12))).encode())
    task = _read(f)
    assert task.labels == ["0", "1"] and sorted(e.text for e in _all(task)) == sorted(f"text {i}" for i in range(12))


# ================================================================ item 12: adapters that do not fit

def _changed(adapter, tmp_path, how):
    from safetensors.torch import load_file, save_file

    from helpers import adapter_copy

    a, w, c = adapter_copy(adapter, tmp_path)
    t = load_file(str(w))
    if how == "renamed tensors":
        save_file({k.replace(".layers.", ".blocks."): v for k, v in t.items()}, str(w), metadata={"format": "pt"})
        return a, "none of its"
    if how == "one tensor missing":
        save_file({k: v for k, v in t.items() if k != sorted(t)[0]}, str(w), metadata={"format": "pt"})
        return a, "are not in it"
    if how == "another peft_type":
        cfg = json.loads(c.read_text())
        c.write_text(json.dumps(dict(cfg, peft_type="IA3")))
        return a, "peft_type 'IA3'"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["renamed tensors", "one tensor missing", "another peft_type"])
@pytest.mark.parametrize("verb", ["eval", "merge"])
def test_an_adapter_that_does_not_fit_is_one_line(verb, how, adapter, tiny_model_dir, tmp_path, capsys):
    from helpers import adapter_argv

    a, needle = _changed(adapter, tmp_path, how)
    argv, out = adapter_argv(verb, a, tiny_model_dir, tmp_path)
    assert main(argv) == 2
    err = one_line_error(capsys, needle, str(a))
    assert "Found missing adapter keys" not in err
    assert not (out / "results.json").exists() and not (out / "model.safetensors").exists()


# ================================================================ item 13: duplicate YAML keys

def test_a_second_train_section_is_refused_naming_key_file_and_line(tmp_path, capsys):
    f = tmp_path / "arm.yaml"
    f.write_text("preset: quick\ntrain:\n  lr: 1.0e-4\ndata: {symbol_fraction: 0.5}\ntrain:\n  steps: 3\n")
    assert main(["run", "--config", str(f), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    one_line_error(capsys, str(f), "line 5", "key 'train' is given twice", "first on line 2")


@pytest.mark.parametrize("text, line, key", [
    ("k: 2\nlimit: 3\nk: 4\n", 3, "k"),
    ("settings: [labels]\nlimit: {a: 1, a: 2}\n", 2, "a"),  # inside a flow mapping, on one line
])
def test_duplicate_keys_in_a_stage_config_are_refused(tmp_path, capsys, text, line, key, tiny_model_dir):
    f = tmp_path / "ev.yaml"
    f.write_text(text)
    assert main(["eval", "--model", tiny_model_dir, "--config", str(f), "--out", str(tmp_path / "o")]) == 2
    one_line_error(capsys, str(f), f"line {line}", f"key '{key}' is given twice")


def test_yaml_merge_keys_may_still_be_overridden():
    from symtune.config_yaml import safe_load_bounded

    assert safe_load_bounded("base: &b {lr: 1, steps: 2}\ntrain:\n  <<: *b\n  lr: 3\n", "x") == \
        {"base": {"lr": 1, "steps": 2}, "train": {"lr": 3, "steps": 2}}


def test_duplicate_keys_in_a_task_config_are_refused(tmp_path, capsys, tiny_model_dir):
    f = tmp_path / "tasks.yaml"
    f.write_text("tasks:\n  - bundled: multiemo_pn\n    role: tune\n    role: eval\n")
    assert main(["data", "--model", tiny_model_dir, "--task-config", str(f), "--preview", "1"]) == 2
    one_line_error(capsys, f"task config {f}", "line 4", "key 'role' is given twice")


# ================================================================ item 14: a class never queried

def _k1_csv(tmp_path):
    rows = [(t, "a") for t in texts(6, "alpha")] + [(t, "b") for t in texts(6, "beta")] + [("gamma only", "c")]
    return write_csv(tmp_path / "k1.csv", rows)


def test_a_class_never_queried_is_noted_warned_and_reported(tiny_model_dir, tmp_path, capsys):
    """k=1, one example of class c: it is an exemplar in every prompt and never a query. The evaluation says
    so in results.json notes, on stderr and in the report; chance stays 1/3, what a uniform guess over the
    three options shown scores, whichever classes the queries have."""
    out = tmp_path / "ev"
    assert main(["eval", "--model", tiny_model_dir, "--task-file", _k1_csv(tmp_path), "--k", "1", "--limit", "4",
                 "--suite", "icl", "--settings", "labels", "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    warn = [x for x in err.splitlines() if "warning" in x]
    assert len(warn) == 1 and "task k1" in warn[0] and "'c': no example in split 'validation'" in warn[0]
    assert "covers 2 of 3 classes" in warn[0] and "chance stays 1/3" in warn[0]
    doc = json.loads((out / "results.json").read_text())
    info = doc["notes"]["unqueried_classes"]["k1"]
    assert info["classes"] == ["c"] and info["queried"] == 2 and info["of"] == 3
    assert doc["results"]["icl"]["labels"]["k1"]["chance"] == pytest.approx(1 / 3)
    rows = [json.loads(x) for x in (out / "samples_icl_k1.jsonl").read_text().splitlines()]
    assert {r["gold"] for r in rows} == {0, 1}  # the note is true: no query of class c
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "never queried" in md and "'c': no example in split 'validation'" in md


def test_every_class_queried_gives_no_note(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["eval", "--model", tiny_model_dir, "--task-file", two_class_csv(tmp_path / "t.csv"), "--k", "1",
                 "--limit", "4", "--suite", "icl", "--settings", "labels", "--no-progress", "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
    assert "unqueried_classes" not in json.loads((out / "results.json").read_text())["notes"]


# ================================================================ item 16: damaged JSONL

def _lines(n=6):
    return [json.dumps({"i": i, "x": "caf\u00e9"}, ensure_ascii=False) for i in range(n)]


def test_read_jsonl_skips_only_a_cut_last_line(tmp_path):
    from symtune.provenance import read_jsonl

    f = tmp_path / "s.jsonl"
    good = "\n".join(_lines()) + "\n"
    f.write_text(good + '{"i": 6, "x": "ca', encoding="utf-8")  # a killed writer: no newline at the end
    assert [r["i"] for r in read_jsonl(f)] == list(range(6))
    f.write_bytes(good.encode() + '{"i": 6, "x": "caf\u00e9'.encode()[:-1])  # cut inside a character
    assert [r["i"] for r in read_jsonl(f)] == list(range(6))
    f.write_text(good + "\n\n", encoding="utf-8")  # blank lines are no rows
    assert len(read_jsonl(f)) == 6


@pytest.mark.parametrize("how", ["middle", "last line ending in a newline", "not an object", "not UTF-8"])
def test_read_jsonl_names_any_other_bad_line(tmp_path, how):
    from symtune.provenance import read_jsonl

    lines = _lines()
    at = 6 if how == "last line ending in a newline" else 3
    lines[at - 1] = {"middle": '{"i": 2, "x"', "last line ending in a newline": '{"i": 5',
                     "not an object": "[1, 2]", "not UTF-8": None}[how]
    f = tmp_path / "s.jsonl"
    if how == "not UTF-8":
        lines[at - 1] = "PLACEHOLDER"
        f.write_bytes(("\n".join(lines) + "\n").encode().replace(b"PLACEHOLDER", b'{"x": "caf\xe9"}'))
    else:
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SymtuneError, match=rf"s\.jsonl:{at} "):
        read_jsonl(f)


def test_eval_never_rewrites_samples_past_a_damaged_line(tiny_model_dir, tmp_path, capsys):
    """A damaged middle line of a samples file: resuming is one line naming it, and the file is untouched
    (it used to be rewritten with the rows before that line, dropping every later one)."""
    out = tmp_path / "ev"
    argv = ["eval", "--model", tiny_model_dir, "--task-file", two_class_csv(tmp_path / "t.csv"), "--k", "1",
            "--limit", "6", "--suite", "icl", "--settings", "labels", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    f = out / "samples_icl_t.jsonl"
    lines = f.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    lines[2] = lines[2][:40]
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = f.read_bytes()
    capsys.readouterr()
    assert main(argv) == 2
    one_line_error(capsys, f"{f}:3", "not a JSON line")
    assert f.read_bytes() == before
