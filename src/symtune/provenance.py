"""Reproducibility helpers: atomic writes, library versions, git revision, stable hashes."""

from __future__ import annotations

import errno
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable

from symtune.errors import SymtuneError
from symtune.runtime import check_interrupted

_PACKAGES = ("symtune", "torch", "transformers", "peft", "accelerate", "datasets", "tokenizers", "numpy")


def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision() -> str | None:
    """The symtune source tree's commit (with '-dirty' if modified), or None outside git."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict:
    return {"versions": library_versions(), "git_revision": git_revision(), "platform": platform.platform()}


def stable_hash(obj: Any, n: int = 16) -> str:
    """Hash of a JSON-serialisable object, independent of dict order."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:n]


def text_hash(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def temp_prefix(path: Path) -> str:
    """Prefix of the temporary files written beside `path`; it carries our pid, so a later run can tell
    a file left by a killed writer (pid gone) from one another process is still writing."""
    return f".{Path(path).name}.{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete temporary files beside `path` left by writers that no longer run (kill -9, power loss)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    head = "." + path.name + "."
    for f in path.parent.iterdir():
        name = f.name
        if not (name.startswith(head) and name.endswith(".tmp")):
            continue
        pid_part = name[len(head):].split("-", 1)[0]
        if not pid_part.isdigit() or int(pid_part) == os.getpid() or _pid_alive(int(pid_part)):
            continue
        try:
            f.unlink()
            removed.append(f)
        except OSError:
            pass
    return removed


# a full disk or quota: the user's to fix, so one line naming the file rather than a traceback
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_full_error(path, e: OSError, state: str = "the file on disk is unchanged") -> SymtuneError:
    return SymtuneError(f"cannot write {path}: {e.strerror or e} ({state}); free some space and rerun the "
                        "same command")


def _atomic_write(path: Path, write, binary: bool = False) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path` (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as e:
        if e.errno in DISK_FULL:
            raise disk_full_error(path, e) from None
        raise
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        check_interrupted()  # never commit a file after Ctrl-C / SIGTERM, even if its exception was lost
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno in DISK_FULL:
            raise disk_full_error(path, e) from None
        raise


def write_stream_atomic(path: str | Path, write) -> None:
    """Atomic text file written by `write(fh)` (for large files produced line by line)."""
    _atomic_write(Path(path), write)


@contextmanager
def atomic_folder(path: str | Path, keep_existing: bool = False):
    """Yield an empty temp folder beside `path`; when the block ends without error it becomes `path`
    (replacing an existing one, or discarded if keep_existing and `path` exists); on error it is removed.
    Readers never see a half-written folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp creates 0700; outputs are meant to be shared
        check_interrupted()
        if keep_existing:
            if path.exists():
                return
            try:
                os.replace(tmp, path)
            except OSError as e:
                # another process renamed its copy into place after the check: the first one stays
                # and ours is discarded (finally, below); never removed, as a reader may be using it
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not path.is_dir():
                    raise
            return
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    _atomic_write(Path(path), lambda fh: fh.write(data), binary=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    _atomic_write(Path(path), lambda fh: fh.write(text))


def write_json_atomic(path: str | Path, obj: Any) -> None:
    _atomic_write(Path(path), lambda fh: fh.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n"))


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict]) -> int:
    count = 0

    def write(fh):
        nonlocal count
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
            count += 1

    _atomic_write(Path(path), write)
    return count


def read_jsonl(path: str | Path) -> list[dict]:
    """Read JSONL, skipping only a truncated last line (a killed writer leaves one without its newline).

    Any other unreadable line is a one-line error naming the file and line: stopping there (or reading
    on past it) would silently drop rows that a rewrite of the file then loses for good."""
    rows = []
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    last = len(lines)  # the piece after the final newline: empty unless the file was cut mid-line
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            if lineno == last:
                break  # cut mid-write (maybe mid-character): the writer's next run redoes that row
            why = e.msg if isinstance(e, json.JSONDecodeError) else f"not UTF-8 at byte {e.start}"
            raise SymtuneError(f"{path}:{lineno} is not a JSON line ({why}); the file is damaged: restore it, "
                               "or delete that line (or the file) so its rows are redone") from None
        if not isinstance(row, dict):
            raise SymtuneError(f"{path}:{lineno} holds a JSON {type(row).__name__}, not an object; the file is "
                               "damaged: restore it, or delete that line (or the file) so its rows are redone")
        rows.append(row)
    return rows
