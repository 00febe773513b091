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

Location: --cache-dir, else $SYMTUNE_EVAL_CACHE, else <symtune cache>/evals (~/.cache/symtune/evals).
"""

from __future__ import annotations

import hashlib
import os
import shutil
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


def _hash_files(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix in _WEIGHT_SUFFIXES and not p.name.startswith("."):
            h.update(p.name.encode() + b"\0")
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
    return h.hexdigest()[:32]


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
    settings = {k: v for k, v in hashed(cfg).items() if k != "model"}
    return stable_hash({"eval": settings, "model": identity, "builder": BUILDER_VERSION,
                        "prompts": prompts_digest(cfg)}, n=32)


def lookup(key: str, root: Path) -> Path | None:
    entry = root / key
    if (entry / ENTRY_FILE).is_file() and (entry / "results.json").is_file():
        return entry
    return None


def _copy_files(src: Path, dst: Path) -> None:
    for p in src.iterdir():
        if p.is_file() and not p.name.startswith("."):
            shutil.copy2(p, dst / p.name)


def store(src: Path, key: str, root: Path, info: dict) -> Path:
    """Copy a finished evaluation folder into the cache under `key` (atomically); return the entry."""
    from symtune.provenance import atomic_folder, write_json_atomic

    existing = lookup(key, root)
    if existing is not None:
        return existing
    with atomic_folder(root / key, keep_existing=True) as tmp:  # another run may store the same entry first
        _copy_files(src, tmp)
        for name in (NOTE_FILE, "stage.json"):
            if (tmp / name).exists():
                (tmp / name).unlink()
        write_json_atomic(tmp / ENTRY_FILE, {"key": key, "stored_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                             "source": str(Path(src).resolve()), **info})
    return root / key


def restore(entry: Path, dest: Path, key: str) -> None:
    """Copy a cache entry's files into `dest` (symtune's files there removed first; a user's are left,
    and one that a copy would replace is refused) with a note of where they came from."""
    from symtune import ownership
    from symtune.provenance import write_json_atomic

    ownership.clear(dest)
    names = [p.name for p in entry.iterdir() if p.is_file() and not p.name.startswith(".") and p.name != ENTRY_FILE]
    ownership.claim(dest, *names, NOTE_FILE)
    for name in names:
        shutil.copy2(entry / name, dest / name)
    write_json_atomic(dest / NOTE_FILE, {"reused_from": str(entry), "key": key,
                                         "restored_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
