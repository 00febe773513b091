"""Atomic writers: files and folders are never seen half-written, and a failure leaves the old target."""

import pytest

from symtune.provenance import atomic_folder, write_stream_atomic, write_text_atomic


def test_folder_replaces_target_only_when_complete(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "new.txt").write_text("half")
            raise RuntimeError("killed")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temp folder left
    with atomic_folder(target) as tmp:
        (tmp / "new.txt").write_text("whole")
    assert [p.name for p in target.iterdir()] == ["new.txt"] and oct(target.stat().st_mode)[-3:] == "755"
    with atomic_folder(target, keep_existing=True) as tmp:
        (tmp / "other.txt").write_text("x")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_file_writers_leave_old_content_on_failure(tmp_path):
    p = tmp_path / "data.jsonl"
    write_text_atomic(p, "old\n")

    def broken(fh):
        fh.write("partial\n")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_stream_atomic(p, broken)
    assert p.read_text() == "old\n" and sorted(x.name for x in tmp_path.iterdir()) == ["data.jsonl"]
