"""Relaunch `symtune train` under `accelerate launch` with a shipped or given config file.

    symtune train ... --accelerate-config cpu-ddp
    # -> python -m accelerate.commands.launch --config_file .../cpu-ddp.yaml -m symtune.cli train --config <resolved.yaml>

The child gets the fully resolved TrainConfig as a temporary YAML file (without accelerate_config)
and SYMTUNE_ACCELERATE_CHILD=1 in its environment, so it never relaunches itself again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from symtune.errors import SymtuneError

CHILD_ENV = "SYMTUNE_ACCELERATE_CHILD"
CONFIG_DIR = Path(__file__).resolve().parent / "accelerate_configs"


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_accelerate_config(name: str) -> Path:
    """A shipped config name (cpu-ddp, multi-gpu, fsdp, deepspeed-zero2) or a path to a YAML file."""
    shipped = CONFIG_DIR / f"{name}.yaml"
    if shipped.is_file():
        return shipped
    p = Path(name).expanduser()
    if p.is_file():
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            data = None
        if not isinstance(data, dict) or "distributed_type" not in data:
            raise SymtuneError(f"accelerate config {p} is not an accelerate YAML (no distributed_type); "
                               "write one with `accelerate config --config_file FILE`")
        return p
    raise SymtuneError(f"unknown accelerate config '{name}'; use one of {', '.join(shipped_configs())} "
                       "or a path to an accelerate YAML file")


def in_child() -> bool:
    return os.environ.get(CHILD_ENV) == "1"


def local_launch_args(num_processes: int) -> list[str]:
    """`accelerate launch` options for N processes on this machine without a config file (CPU: gloo)."""
    return ["--multi_gpu", "--num_processes", str(num_processes), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no"]


def relaunch(cfg_dict: dict, accel_config: Path | None, extra_launch_args: list[str] | None = None,
             verb: str = "train", verb_args: list[str] | None = None, env_extra: dict | None = None) -> int:
    """Run `accelerate launch` on `symtune <verb>` with the resolved config; return its exit status."""
    cfg = dict(cfg_dict)
    if "accelerate_config" in cfg:
        cfg["accelerate_config"] = None
    fd, tmp = tempfile.mkstemp(prefix=f"symtune-{verb}-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           *(["--config_file", str(accel_config)] if accel_config else []),
           *(extra_launch_args or []), "-m", "symtune.cli", verb, "--config", tmp, *(verb_args or [])]
    env = dict(os.environ)
    env[CHILD_ENV] = "1"
    env.update(env_extra or {})
    print(f"symtune {verb}: relaunching: " + " ".join(cmd), file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, env=env)
    finally:
        os.unlink(tmp)
    if proc.returncode != 0:
        what = accel_config.name if accel_config else " ".join(extra_launch_args or [])
        raise SymtuneError(f"symtune {verb} under accelerate ({what}) failed with exit status "
                           f"{proc.returncode}; see the messages above")
    return 0
