"""Small builders shared by the tests/test_hostile_*.py files (issue 13: a hostile run of every verb)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

WORDS = ["river", "stone", "cloud", "apple", "train", "paper", "glass", "music", "tiger", "lemon", "chair",
         "ocean", "pencil", "window", "garden", "silver", "rocket", "candle", "forest", "button"]


def texts(n: int, tag: str) -> list[str]:
    return [f"{tag} {WORDS[i % len(WORDS)]} {WORDS[(i * 7 + 3) % len(WORDS)]} number {i}" for i in range(n)]


def write_csv(path: Path, rows: list[tuple], header=("text", "label")) -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def two_class_csv(path: Path, n: int = 24) -> str:
    rows = [(t, "yes") for t in texts(n, "good")] + [(t, "no") for t in texts(n, "bad")]
    return write_csv(path, rows)


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def train_rows(n: int = 8) -> list[dict]:
    """Rows in the `symtune data` format (prompt ends at 'Output:', completion ' SYMBOL')."""
    out = []
    for i in range(n):
        sym = ["QXB", "7342"][i % 2]
        prompt = f"Input: {WORDS[i]} one\nOutput: QXB\n\nInput: {WORDS[i + 1]} two\nOutput: 7342\n\n" \
                 f"Input: query {WORDS[i + 2]}\nOutput:"
        out.append({"prompt": prompt, "completion": " " + sym})
    return out


def dead_pid() -> int:
    """The pid of a process that has exited (for stale-temporary-file tests)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture()
def readonly_dir(tmp_path):
    """A folder this process cannot create files in (chmod 555; as root, chattr +i), or skip."""
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o555)
    immutable = False
    try:
        probe = d / "probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:  # root ignores permission bits: fall back to the immutable attribute
            probe.unlink()
            if subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode != 0:
                pytest.skip("cannot make a read-only folder here (root without chattr)")
            immutable = True
        yield d
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(d)], capture_output=True)
        os.chmod(d, 0o755)


def tree(path: Path) -> dict:
    """{relative path: bytes} of every file under path (to show nothing was touched)."""
    path = Path(path)
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
