"""Content-addressed store of finished evaluations, so a study evaluates its base model once.

    symtune run --preset default --out runs/a                  # evaluates the base model, stores it
    symtune run --preset default --train.lr 1e-4 --out runs/b  # reuses it (copied into runs/b/eval_base)

An entry's address is the hash of: every result-relevant evaluation setting except the model path
(`config.hashed`, with device and dtype resolved: an `auto` run on a CPU with native bf16 and one on a
CPU without it never share an entry), the model's identity (a hash of its weight and config files for a local or
bundled model; Hub id + commit for a Hub model found in the local Hub cache), BUILDER_VERSION, and
a digest of every prompt and option the settings produce (so a change in prompt building or task data
never reuses a stale entry, even if BUILDER_VERSION was not bumped). An evaluation with an adapter is
not cached. Entries are written to a hidden temp folder and renamed into place when complete, so a
half-written entry is never seen.

An entry is used only if it verifies: cache_entry.json, written last, lists the sha256 of every file of
the entry (results.json and the samples files); an entry whose files were edited, truncated or lost, or
one without that list (stored by an older symtune), is not used: the evaluation runs again, with a
one-line note, and its new entry replaces the damaged one.

Location: --cache-dir, else $SYMTUNE_EVAL_CACHE, else <symtune cache>/evals (~/.cache/symtune/evals).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from symtune.eval.config import EvalConfig

BUILDER_VERSION = 1  # bump when prompt building changes on purpose
ENTRY_FILE = "cache_entry.json"
NOTE_FILE = "cache.json"  # written into a run's eval folder that was restored from the cache
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt")


def cache_root(cache_dir: str | None = None) -> Path:
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("SYMTUNE_EVAL_CACHE"):
        return Path(os.environ["SYMTUNE_EVAL_CACHE"]).expanduser()
    from symtune.models import cache_dir as symtune_cache

    return symtune_cache() / "evals"


_IDENTITY_MEMO: dict = {}


def check_root(cache_dir: str | None = None) -> Path:
    """Refuse, before any work, a cache location that is a file or cannot be written (else the base
    evaluation would run, fail to store, and run again on every rerun)."""
    from symtune.errors import SymtuneError
    from symtune.paths import check_output

    root = cache_root(cache_dir)
    option = "--cache-dir" if cache_dir else ("$SYMTUNE_EVAL_CACHE" if os.environ.get("SYMTUNE_EVAL_CACHE")
                                              else "the evaluation cache")
    try:
        return check_output(root, kind="folder", option=option)
    except SymtuneError as e:
        raise SymtuneError(f"{e} (or pass --no-cache)") from None


def _hash_files(folder: Path) -> str:
    files = [p for p in sorted(folder.iterdir())
             if p.is_file() and p.suffix in _WEIGHT_SUFFIXES and not p.name.startswith(".")]
    # one process hashes a model several times (stage hashes, cache key): reuse the digest while
    # every file keeps its size, inode and modification time
    stamp = tuple((p.name, st.st_size, st.st_ino, st.st_mtime_ns) for p in files for st in [p.stat()])
    memo_key = (str(folder.resolve()), stamp)
    if memo_key in _IDENTITY_MEMO:
        return _IDENTITY_MEMO[memo_key]
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    _IDENTITY_MEMO[memo_key] = digest = h.hexdigest()[:32]
    return digest


def model_identity(model: str) -> dict | None:
    """What the model's weights are, independent of where they lie; None when it cannot be pinned."""
    from symtune.models import resolve_model

    path = resolve_model(model)
    p = Path(path)
    if p.is_dir():
        return {"files_sha256": _hash_files(p)}
    try:  # a Hub id: pin the commit of the snapshot in the local Hub cache
        from huggingface_hub import snapshot_download

        snap = snapshot_download(path, local_files_only=True, allow_patterns=["config.json"])
    except Exception:  # not downloaded yet, or no such repo: nothing to pin, so nothing to reuse
        return None
    return {"hub_id": path, "revision": Path(snap).name}


def scorer_key(model: str) -> dict:
    """{} for a model whose layers are all full attention; otherwise which scoring path its numbers come from,
    so evaluations scored before sliding-window models were packed (exactly, but with other float rounding)
    are not mixed with later ones."""
    from symtune.models import resolve_model

    path = Path(resolve_model(model))
    try:
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    cfg = cfg.get("text_config", cfg)
    types_ = set(cfg.get("layer_types") or [])
    if types_ - {"full_attention"} or (not types_ and cfg.get("sliding_window")):
        return {"scorer": "sliding-packed-1"}
    return {}


def prompts_digest(cfg: EvalConfig) -> str:
    from symtune.eval.runner import prepare
    from symtune.provenance import stable_hash, text_hash

    items = prepare(cfg)[0]
    return stable_hash([[it.suite, it.task, it.setting, it.doc_id, text_hash(it.prompt), it.options]
                        for it in items], n=32)


def cache_key(cfg: EvalConfig) -> str | None:
    """The entry address of this evaluation, or None if it cannot be cached."""
    from symtune.config import hashed
    from symtune.provenance import stable_hash

    from symtune.hardware import resolve_config

    if cfg.adapter:
        return None
    cfg = resolve_config(cfg, "eval")[0]  # the dtype and device that will run, never `auto`
    identity = model_identity(cfg.model)
    if identity is None:
        return None
    settings = {**{k: v for k, v in hashed(cfg).items() if k != "model"}, **scorer_key(cfg.model)}
    return stable_hash({"eval": settings, "model": identity, "builder": BUILDER_VERSION,
                        "prompts": prompts_digest(cfg)}, n=32)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _entry_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.name != ENTRY_FILE)


def verify(entry: Path) -> str | None:
    """None when the entry holds exactly what was stored; else why it may not be used."""
    try:
        info = json.loads((entry / ENTRY_FILE).read_text(encoding="utf-8"))
        files = info.get("files") if isinstance(info, dict) else None
    except (OSError, UnicodeDecodeError, ValueError):
        return f"its {ENTRY_FILE} is unreadable"
    if not isinstance(files, dict) or not files:
        return f"its {ENTRY_FILE} lists no checksums (stored by an older symtune)"
    if "results.json" not in files or not any(str(n).startswith("samples_") for n in files):
        return "it does not hold results.json and its samples files"
    for name, digest in sorted(files.items()):
        p = entry / name
        if "/" in name or name.startswith(".") or not p.is_file():
            return f"{name} is missing"
        if _sha256(p) != digest:
            return f"{name} is not the file that was stored (edited or truncated)"
    return None


def lookup(key: str, root: Path, note=None) -> Path | None:
    """The verified entry stored under `key`, or None. An entry that fails verification is not used:
    a one-line note (on stderr unless `note` is given) says why, and the caller evaluates again."""
    entry = root / key
    if not (entry / ENTRY_FILE).is_file():  # absent, or a half-written copy that was never renamed in
        return None
    why = verify(entry)
    if why is None:
        return entry
    msg = f"note: the cached evaluation {entry} is not used ({why}); evaluating again"
    (note or (lambda m: print(m, file=sys.stderr, flush=True)))(msg)
    return None


def _copy_files(src: Path, dst: Path) -> None:
    for p in src.iterdir():
        if p.is_file() and not p.name.startswith("."):
            shutil.copy2(p, dst / p.name)


def _discard(entry: Path) -> None:
    """Move a damaged entry out of the way (renamed first: a reader never sees it half-deleted)."""
    from symtune.provenance import temp_prefix

    aside = entry.parent / f"{temp_prefix(entry)}damaged.tmp"
    try:
        os.replace(entry, aside)
    except OSError:  # another run discarded or replaced it first
        return
    shutil.rmtree(aside, ignore_errors=True)


def store(src: Path, key: str, root: Path, info: dict) -> Path:
    """Copy a finished evaluation folder into the cache under `key` (atomically); return the entry.

    cache_entry.json, with the checksum of every file, is written last: an entry is complete and
    verifiable, or it is not used. A damaged entry under the same key (symtune's: it has that file)
    is replaced."""
    from symtune.provenance import atomic_folder, write_json_atomic

    entry = root / key
    if (entry / ENTRY_FILE).is_file():
        if verify(entry) is None:
            return entry
        _discard(entry)
    with atomic_folder(entry, keep_existing=True) as tmp:  # another run may store the same entry first
        _copy_files(src, tmp)
        for name in (NOTE_FILE, "stage.json"):
            if (tmp / name).exists():
                (tmp / name).unlink()
        files = {p.name: _sha256(p) for p in _entry_files(tmp)}
        write_json_atomic(tmp / ENTRY_FILE, {"key": key, "stored_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                             "source": str(Path(src).resolve()), **info, "files": files})
    return entry


def restore(entry: Path, dest: Path, key: str) -> None:
    """Copy a cache entry's files into `dest` (symtune's files there removed first; a user's are left,
    and one that a copy would replace is refused) with a note of where they came from."""
    from symtune import ownership
    from symtune.provenance import write_json_atomic

    ownership.clear(dest)
    names = sorted(json.loads((entry / ENTRY_FILE).read_text(encoding="utf-8"))["files"])  # what was verified
    ownership.claim(dest, *names, NOTE_FILE)
    for name in names:
        shutil.copy2(entry / name, dest / name)
    write_json_atomic(dest / NOTE_FILE, {"reused_from": str(entry), "key": key,
                                         "restored_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
