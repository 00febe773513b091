"""Issue 13, items 1, 5 and 16: outputs are checked before any work, inputs and existing files are never
overwritten silently, and no partial temporary file outlives a killed `symtune data`."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import dead_pid, readonly_dir, train_rows, tree, two_class_csv, write_jsonl  # noqa: F401

from symtune.cli import main
from symtune.errors import SymtuneError


@pytest.fixture()
def task_csv(tmp_path):
    return two_class_csv(tmp_path / "v.csv")


def _data(model, task_csv, out, *extra):
    return ["data", "--model", model, "--task-files", task_csv, "--n-prompts", "3", "--min-exemplars", "1",
            "--max-exemplars", "2", "--out", str(out), *extra]


# ---------------------------------------------------------------- item 1: data --out overwrites

def test_data_refuses_an_existing_output_unless_force(tiny_model_dir, task_csv, tmp_path, capsys):
    out = tmp_path / "d.jsonl"
    out.write_text("precious\n")
    assert main(_data(tiny_model_dir, task_csv, out)) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and str(out) in err
    assert out.read_text() == "precious\n" and not (tmp_path / "d.stats.json").exists()
    assert main(_data(tiny_model_dir, task_csv, out, "--force")) == 0
    assert len(out.read_text().splitlines()) == 3 and (tmp_path / "d.stats.json").is_file()
    # a stats file from an earlier build counts as existing output too
    out.unlink()
    assert main(_data(tiny_model_dir, task_csv, out)) == 2
    assert "d.stats.json already exists" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["same path", "relative path", "symlink", "hard link", "with --force"])
def test_data_never_overwrites_its_task_file(tiny_model_dir, task_csv, tmp_path, capsys, monkeypatch, how):
    before = Path(task_csv).read_bytes()
    out, extra = Path(task_csv), []
    if how == "relative path":
        monkeypatch.chdir(tmp_path)
        out = Path("sub/../v.csv")
        (tmp_path / "sub").mkdir()
    elif how == "symlink":
        out = tmp_path / "link.csv"
        out.symlink_to(task_csv)
    elif how == "hard link":
        out = tmp_path / "hard.csv"
        os.link(task_csv, out)
    elif how == "with --force":
        extra = ["--force"]
    assert main(_data(tiny_model_dir, task_csv, out, *extra)) == 2
    err = capsys.readouterr().err
    assert "is also an input" in err and err.count("\n") == 1
    assert Path(task_csv).read_bytes() == before


def test_data_never_overwrites_its_config_file_or_a_stats_name_input(tiny_model_dir, task_csv, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"task_files: [{task_csv}]\nn_prompts: 2\nmodel: {tiny_model_dir}\n")
    before = cfg.read_bytes()
    assert main(["data", "--config", str(cfg), "--out", str(cfg), "--force"]) == 2
    assert "is also an input" in capsys.readouterr().err and cfg.read_bytes() == before
    # the stats file written beside --out must not land on an input either: d.jsonl -> d.stats.json
    stats_input = tmp_path / "d.stats.json"
    stats_input.write_text('[{"text": "a b", "label": "x"}]\n')
    assert main(["data", "--model", tiny_model_dir, "--task-files", f"{task_csv},{stats_input}",
                 "--out", str(tmp_path / "d.jsonl"), "--force"]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert not (tmp_path / "d.jsonl").exists()


def test_data_checks_the_output_before_printing_a_preview(tiny_model_dir, task_csv, tmp_path, capsys):
    out = tmp_path / "d.jsonl"
    out.write_text("x\n")
    assert main(_data(tiny_model_dir, task_csv, out, "--preview", "1")) == 2
    cap = capsys.readouterr()
    assert "--- task=" not in cap.out and "already exists" in cap.err


# ---------------------------------------------------------------- item 5: output locations, every verb

def _argv(verb, out, tiny, task_csv, rows, tmp_path):
    return {
        "data": _data(tiny, task_csv, out),
        "eval": ["eval", "--model", tiny, "--task-file", task_csv, "--k", "1", "--limit", "2", "--no-progress",
                 "--out", str(out)],
        "train": ["train", "--model", tiny, "--data", rows, "--steps", "1", "--out", str(out)],
        "export": ["export", "lm-eval", "--model", tiny, "--task-file", task_csv, "--k", "1", "--limit", "2",
                   "--out", str(out)],
        "merge": ["merge", str(tmp_path), "--out", str(out)],
        "report": ["report", str(tmp_path), "--out", str(out)],
        "run": ["run", "--preset", "quick", "--model", tiny, "--out", str(out)],
    }[verb]


VERBS = ["data", "eval", "train", "export", "merge", "report", "run"]


@pytest.fixture()
def no_model(monkeypatch):
    """Fail the test if a verb starts real work (resolving a model) before checking its output."""
    import symtune.models

    def boom(*a, **k):
        raise AssertionError("work started before the output location was checked")

    monkeypatch.setattr(symtune.models, "resolve_model", boom)


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("case", ["parent is a file", "wrong kind", "read-only folder"])
def test_bad_output_location_is_one_line_before_any_work(verb, case, tiny_model_dir, tmp_path, capsys, request,
                                                         no_model):
    task_csv = two_class_csv(tmp_path / "t.csv")
    rows = write_jsonl(tmp_path / "rows.jsonl", train_rows())
    if case == "parent is a file":
        (tmp_path / "afile").write_text("x")
        out, expect = tmp_path / "afile" / "sub" / ("d.jsonl" if verb == "data" else "o"), "is a file, not a folder"
    elif case == "wrong kind":
        if verb == "data":
            (tmp_path / "adir").mkdir()
            out, expect = tmp_path / "adir", "is an existing folder"
        else:
            (tmp_path / "afile").write_text("x")
            out, expect = tmp_path / "afile", "is an existing file"
    else:
        ro = request.getfixturevalue("readonly_dir")
        out, expect = ro / ("d.jsonl" if verb == "data" else "o"), "cannot write in"
    before = tree(tmp_path / "afile") if (tmp_path / "afile").exists() else None
    assert main(_argv(verb, out, tiny_model_dir, task_csv, rows, tmp_path)) == 2
    err = capsys.readouterr().err
    assert expect in err and "--out" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    if before is not None:
        assert tree(tmp_path / "afile") == before


def test_check_output_helper(tmp_path, readonly_dir):
    from symtune.paths import check_output

    assert check_output(tmp_path / "new" / "deeper", "folder") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # creates nothing
    assert check_output(tmp_path / "f.jsonl", "file") == tmp_path / "f.jsonl"
    (tmp_path / "f.jsonl").write_text("x")
    with pytest.raises(SymtuneError, match="--model-out .* is an existing file"):
        check_output(tmp_path / "f.jsonl", "folder", option="--model-out")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(SymtuneError, match="broken symbolic link"):
        check_output(tmp_path / "dangling", "folder")
    with pytest.raises(SymtuneError, match="cannot write in"):
        check_output(readonly_dir, "folder")
    with pytest.raises(SymtuneError, match="is empty"):
        check_output("", "file")


# ---------------------------------------------------------------- item 16: no partial file survives a kill

def test_rerun_removes_temporaries_left_by_a_killed_writer(tiny_model_dir, task_csv, tmp_path):
    out = tmp_path / "d.jsonl"
    stale = tmp_path / f".d.jsonl.{dead_pid()}-abc123.tmp"
    stale_stats = tmp_path / f".d.stats.json.{dead_pid()}-x.tmp"
    live = tmp_path / f".d.jsonl.{os.getppid()}-zzz.tmp"  # a running process may still be writing it
    other = tmp_path / ".d.jsonl.notapid.tmp"
    for f in (stale, stale_stats, live, other):
        f.write_text("partial")
    assert main(_data(tiny_model_dir, task_csv, out)) == 0
    assert not stale.exists() and not stale_stats.exists()
    assert live.exists() and other.exists()
    assert out.is_file()


def _spawn_data(tiny, task_csv, out, workers):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "symtune.cli", "data", "--model", tiny, "--task-files", task_csv,
           "--n-prompts", "200000", "--min-exemplars", "1", "--max-exemplars", "2", "--workers", str(workers),
           "--out", str(out)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_temp(proc, folder: Path, timeout=90.0) -> Path:
    t0 = time.time()
    while time.time() - t0 < timeout:
        temps = list(folder.glob(".d.jsonl.*.tmp"))
        if temps and temps[0].stat().st_size > 0:
            return temps[0]
        if proc.poll() is not None:
            raise AssertionError(f"data exited early: {proc.communicate()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("no temporary file appeared")


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_during_data_leaves_no_partial_file(tiny_model_dir, task_csv, tmp_path, workers):
    out = tmp_path / "d.jsonl"
    proc = _spawn_data(tiny_model_dir, task_csv, out, workers)
    _wait_for_temp(proc, tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # 128 + SIGTERM
    assert "interrupted" in err and "Traceback" not in err
    assert not list(tmp_path.glob(".d.*")) and not out.exists()


@pytest.mark.slow
def test_kill_9_during_data_then_rerun_cleans_up(tiny_model_dir, task_csv, tmp_path):
    out = tmp_path / "d.jsonl"
    proc = _spawn_data(tiny_model_dir, task_csv, out, 1)
    temp = _wait_for_temp(proc, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert temp.exists() and not out.exists()  # nothing can run on SIGKILL ...
    assert main(_data(tiny_model_dir, task_csv, out)) == 0  # ... so the rerun removes it
    assert not temp.exists() and out.is_file()


# ---------------------------------------------------------------- neighbours

def test_eval_never_writes_into_its_adapter_or_model_folder(tiny_model_dir, tmp_path, capsys):
    task_csv = two_class_csv(tmp_path / "t.csv")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    before = tree(adapter)
    assert main(["eval", "--model", tiny_model_dir, "--adapter", str(adapter), "--task-file", task_csv,
                 "--out", str(adapter)]) == 2
    assert "is also an input" in capsys.readouterr().err and tree(adapter) == before
    before = tree(Path(tiny_model_dir))
    assert main(["eval", "--model", tiny_model_dir, "--task-file", task_csv, "--out", tiny_model_dir]) == 2
    assert "is also an input" in capsys.readouterr().err and tree(Path(tiny_model_dir)) == before


def test_train_data_that_is_a_folder(tiny_model_dir, tmp_path, capsys):
    assert main(["train", "--model", tiny_model_dir, "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "is a folder" in capsys.readouterr().err and not (tmp_path / "o").exists()
