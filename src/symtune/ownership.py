"""What symtune may delete or replace in an output folder, and who may write to it.

    from symtune import ownership
    with ownership.locked(out):            # a second process writing `out` is refused with one line
        ownership.claim(out, "results.json")   # refused if a results.json exists that symtune did not write
        write_json_atomic(out / "results.json", doc)
    ownership.clear(stage_dir)             # removes what symtune wrote there, leaves the user's files

Every output folder keeps MANIFEST: the top-level names symtune wrote in it (recorded before the
write, so a killed writer's files are still known). symtune deletes or replaces an entry only when
the manifest lists it, or when it is one of its own temporaries (`.NAME.<pid>-XXXX.tmp`) whose
writer is gone. Anything else is the user's: left alone, and a write that would replace it is
refused with one line naming it. A symbolic link inside an output folder is never written through
(symtune never creates one there). LOCK is an advisory flock held while a process writes the folder.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from symtune.errors import SymtuneError

MANIFEST = ".symtune-files.json"
LOCK = ".symtune.lock"
BOOKKEEPING = (MANIFEST, LOCK)
HELD_ENV = "SYMTUNE_HELD_LOCKS"  # folders a parent process holds locked, for its accelerate children
_TEMP_RE = re.compile(r"^\..+\.(\d+)-[^/]*\.tmp$")


def owned(folder: str | Path) -> set[str]:
    """Names symtune recorded writing in `folder` (empty when there is no readable manifest)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    names = data.get("files") if isinstance(data, dict) else None
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def _save(folder: Path, names: set[str]) -> None:
    from symtune.provenance import write_json_atomic

    write_json_atomic(folder / MANIFEST, {"written_by": "symtune", "files": sorted(names)})


def _dead_temp(name: str) -> bool:
    """A temporary file or folder of symtune's atomic writers whose writing process has exited."""
    from symtune.provenance import _pid_alive

    m = _TEMP_RE.match(name)
    return bool(m) and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1)))


def _is_temp(name: str) -> bool:
    return bool(_TEMP_RE.match(name))


def user_entries(folder: str | Path) -> list[str]:
    """Entries of `folder` other than symtune's bookkeeping files and temporaries (for "is it empty?")."""
    p = Path(folder)
    if not p.is_dir():
        return []
    return sorted(e.name for e in p.iterdir() if e.name not in BOOKKEEPING and not _is_temp(e.name))


def _foreign_message(path: Path) -> str:
    return (f"{path} was not written by symtune (it is not in {path.parent / MANIFEST}), so symtune will not "
            "replace or delete it; move it away or choose another --out")


def check_entry(folder: str | Path, name: str) -> Path:
    """Refuse a symbolic link at folder/name: symtune never writes through one in its output folders."""
    p = Path(folder) / name
    if p.is_symlink():
        raise SymtuneError(f"{p} is a symbolic link (to {os.readlink(p)}); symtune does not write through links "
                           "inside its output folders; remove the link or choose another --out")
    return p


def claim(folder: str | Path, *names: str) -> None:
    """Record that symtune is about to write folder/<name> for each name; refuse, before recording
    any, a name that exists and was not written by symtune, or that is a symbolic link."""
    folder = Path(folder)
    mine = owned(folder)
    for name in names:
        p = check_entry(folder, name)
        if name not in mine and os.path.lexists(p):
            raise SymtuneError(_foreign_message(p))
    new = set(names) - mine
    if new:
        folder.mkdir(parents=True, exist_ok=True)
        _save(folder, mine | new)


@contextmanager
def recording(folder: str | Path):
    """Claim every entry that appears in `folder` during the block (files a library writes under
    names we do not know in advance, e.g. save_pretrained's); the folder lock keeps others out."""
    folder = Path(folder)
    before = set(os.listdir(folder)) if folder.is_dir() else set()
    try:
        yield
    finally:
        if folder.is_dir():
            new = {n for n in os.listdir(folder) if n not in before and n not in BOOKKEEPING and not _is_temp(n)}
            if new:
                _save(folder, owned(folder) | new)


def _delete(p: Path) -> None:
    if p.is_symlink() or not p.is_dir():
        p.unlink()
    else:
        shutil.rmtree(p)


def remove(folder: str | Path, *names: str) -> list[str]:
    """Delete the existing ones of folder/<name>; refuse, before deleting any, if one of them was not
    written by symtune. Returns the names deleted."""
    folder = Path(folder)
    mine = owned(folder)
    present = [n for n in names if os.path.lexists(folder / n)]
    for name in present:
        if name not in mine and not _dead_temp(name):
            raise SymtuneError(_foreign_message(folder / name))
    for name in present:
        _delete(folder / name)
    if mine & set(present):
        _save(folder, mine - set(present))
    return present


def clear(folder: str | Path) -> list[str]:
    """Delete every entry of `folder` that symtune wrote (and its dead temporaries); return the names
    left because they are not symtune's."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    mine = owned(folder)
    pending = {n for n in mine if not os.path.lexists(folder / n)}  # claimed, not written yet: still ours
    left = []
    for e in sorted(folder.iterdir(), key=lambda x: x.name):
        if e.name in BOOKKEEPING:
            continue
        if e.name in mine or _dead_temp(e.name):
            _delete(e)
        elif not _is_temp(e.name):
            left.append(e.name)
    if mine != pending:
        _save(folder, pending)
    return left


def check_replaceable(folder: str | Path) -> None:
    """Refuse to replace `folder` as a whole unless every entry in it is symtune's."""
    folder = Path(folder)
    if folder.is_dir() and not folder.is_symlink():
        mine = owned(folder)
        for name in user_entries(folder):
            if name not in mine:
                raise SymtuneError(_foreign_message(folder / name))


# -- one writer per output folder ----------------------------------------------------------------
_held: dict[str, list] = {}  # realpath -> [fd or None, depth]


def held() -> list[str]:
    """Folders this process holds locked (handed to accelerate children in HELD_ENV)."""
    return [k for k, (fd, _) in _held.items() if fd is not None] + _inherited()


def _inherited() -> list[str]:
    return [p for p in os.environ.get(HELD_ENV, "").split(os.pathsep) if p]


def _other_rank() -> bool:
    """A non-zero rank of a launcher the user ran (rank 0 holds the lock for all of them)."""
    rank = os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or "0"
    return rank != "0"


@contextmanager
def locked(folder: str | Path, option: str = "--out"):
    """Hold an advisory lock on `folder` (created if absent) for the block; a second process is refused
    with one line. Re-entrant in one process; a child started by runtime.launch() under a parent that
    holds the lock, and ranks other than 0, go through without taking it."""
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    if key in _inherited() or _other_rank():
        yield
        return
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):  # no locking on this filesystem
            os.close(fd)
            fd = None
        else:
            try:
                pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            finally:
                os.close(fd)
            raise SymtuneError(f"{option} {folder} is being written by another symtune process (pid {pid}); "
                               "wait for it to finish, or choose another " + option) from None
    if fd is not None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        _held.pop(key, None)
        try:  # a folder made only for the lock (the work stopped before writing) is not left behind
            if created and os.listdir(folder) == [LOCK]:
                os.unlink(folder / LOCK)
                os.rmdir(folder)
        except OSError:
            pass
        if fd is not None:
            os.close(fd)  # releases the lock; otherwise the file stays (removing it would race another locker)
