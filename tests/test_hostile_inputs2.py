"""Issue 23, items 10, 12, 13, 14, 16 and 22: task files, adapters, YAML keys, unqueried classes, damaged
JSONL and CSV limits. Bad input is one line naming the file, row or option (exit 2, no traceback), or is
read by the rule docs/PROMISES.md states."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hostile_helpers import texts, train_rows, two_class_csv, write_csv, write_jsonl

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
