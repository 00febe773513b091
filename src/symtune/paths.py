"""Output locations, checked before any work starts (every verb that writes calls this first).

    from symtune.paths import check_output, check_not_input
    check_output("runs/eval", kind="folder", option="--out")   # eval, train, export, merge, report, run
    check_output("runs/data.jsonl", kind="file", option="--out")  # data
    check_not_input("v.csv", ["v.csv"], option="--out")         # refuses overwriting an input

A bad location (an existing folder where a file is wanted or the reverse, a device or pipe where a
file is wanted, a parent that is a file, a folder this process cannot write in) is a one-line
SymtuneError naming the option, instead of a traceback after minutes of setup.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from symtune.errors import SymtuneError


def _nearest_existing(p: Path) -> Path:
    """The path itself or its closest ancestor that exists."""
    cur = p
    while not os.path.lexists(cur):
        if cur.parent == cur:
            break
        cur = cur.parent
    return cur


def _writable_dir(d: Path) -> bool:
    """True when a file can be created in folder d. A real probe, not os.access: root ignores
    permission bits but not read-only mounts or immutable folders."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".symtune-write-check-", dir=d)
    except OSError:
        return False
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return True


def check_output(path: str | os.PathLike, kind: str = "folder", option: str = "--out") -> Path:
    """Check that `path` can be written as a `kind` ("file" or "folder"); returns it as a Path.

    Creates nothing. The folder (or the file's folder) may not exist yet: then its nearest existing
    ancestor must be a writable folder.
    """
    if kind not in ("file", "folder"):
        raise ValueError(f"kind must be 'file' or 'folder', not {kind!r}")
    if path is None or str(path).strip() == "":
        raise SymtuneError(f"{option} is empty; pass a {kind} path")
    p = Path(path).expanduser()
    if os.path.lexists(p) and not p.exists():
        raise SymtuneError(f"{option} {p} is a broken symbolic link; remove it or choose another {option}")
    if p.exists():
        if kind == "file" and p.is_dir():
            raise SymtuneError(f"{option} {p} is an existing folder; pass a file path (e.g. {p / 'data.jsonl'})")
        if kind == "folder" and not p.is_dir():
            raise SymtuneError(f"{option} {p} is an existing file; pass a folder path")
        if kind == "file" and not p.is_file():  # a device, FIFO or socket: replacing it is never meant
            raise SymtuneError(f"{option} {p} is not a regular file (a device, pipe or socket); pass a file path")
    target_dir = p if kind == "folder" else p.parent
    anchor = _nearest_existing(target_dir if str(target_dir) else Path("."))
    if not anchor.is_dir():
        raise SymtuneError(f"{option} {p}: {anchor} is a file, not a folder; choose another {option}")
    if not _writable_dir(anchor):
        raise SymtuneError(f"{option} {p}: cannot write in {anchor} (permission denied or read-only); "
                           f"choose another {option}")
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_not_input(out: str | os.PathLike, inputs: Iterable, option: str = "--out") -> None:
    """Refuse an output path that is one of the inputs (it would be destroyed by the write)."""
    o = Path(out).expanduser()
    for src in inputs:
        if not src:
            continue
        s = Path(src).expanduser()
        if _same_file(o, s):
            raise SymtuneError(f"{option} {o} is also an input ({s}); writing it would destroy the input, "
                               f"choose another {option}")
