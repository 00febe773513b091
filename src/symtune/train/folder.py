"""A training output folder: its completion marker, checkpoints, and whether a rerun may continue it.

    symtune train --data rows.jsonl --out runs/lora      # rerun the same command to resume

A checkpoint counts as complete only once MARKER is in it (written after Trainer saved weights,
optimizer, scheduler, RNG and trainer state). `check_out_dir` refuses to overwrite a different run:
the previous run's result-relevant config (`NON_SEMANTIC` fields left out) and data hash must match.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.train.config import NON_SEMANTIC, TrainConfig

MARKER = "symtune_complete.json"


META = "symtune_train.json"


CKPT_RE = re.compile(r"^checkpoint-(\d+)$")



def file_sha(path: str | Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]



def semantic_config(cfg_dict: dict) -> dict:
    return {k: v for k, v in cfg_dict.items() if k not in NON_SEMANTIC}



def last_complete_checkpoint(ckpt_dir: Path) -> Path | None:
    best = None
    if ckpt_dir.is_dir():
        for p in ckpt_dir.iterdir():
            m = CKPT_RE.match(p.name)
            if m and p.is_dir() and (p / MARKER).is_file() and (p / "trainer_state.json").is_file():
                if best is None or int(m.group(1)) > best[0]:
                    best = (int(m.group(1)), p)
    return best[1] if best else None



def check_out_dir(cfg: TrainConfig, cfg_dict: dict, data_sha: str) -> dict | None:
    """Refuse to overwrite another run; accept a folder holding a run of the same config and data.

    A run of the same config that was interrupted (status running) is resumed by the same command,
    with or without --resume; a finished one is left as it is. Returns the previous
    symtune_train.json (or None for a fresh folder)."""
    out = Path(cfg.out)
    meta_path = out / META
    if out.exists() and not out.is_dir():
        raise SymtuneError(f"output path {out} is a file; pass a folder to --out")
    if not meta_path.is_file():
        from symtune.ownership import user_entries

        if user_entries(out):  # symtune's own lock and file list do not count
            raise SymtuneError(f"output folder {out} is not empty and holds no {META}; choose a new or empty --out")
        return None
    try:
        prev = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise SymtuneError(f"{meta_path} is unreadable; choose a new --out") from None
    status = prev.get("status", "?")
    if status == "diverged":
        raise SymtuneError(f"output folder {out} holds a training run that diverged ({prev.get('diverged', '')}); "
                           "choose a new --out")
    old = semantic_config(prev.get("config", {}))
    new = semantic_config(cfg_dict)
    old["data_sha256"], new["data_sha256"] = prev.get("data", {}).get("sha256"), data_sha
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:6])
        raise SymtuneError(f"output folder {out} already holds a training run ({status}) with a different config "
                           f"({detail}); rerun with the same options to resume it or choose a new --out")
    return prev
