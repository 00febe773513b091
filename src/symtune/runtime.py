"""Process runtime: relaunching under `accelerate launch`, the child test, and interrupts.

    symtune train ... --accelerate-config cpu-ddp      # train: a shipped or user accelerate config
    symtune eval ... --processes 2                     # eval: N local data-parallel processes
    # -> python -m accelerate.commands.launch [--config_file F | --multi_gpu --num_processes N ...]
    #        -m symtune.cli <verb> --config <resolved.yaml> [--out DIR]

Train and eval both relaunch through `launch()`. The child gets the fully resolved config as a
temporary YAML and SYMTUNE_ACCELERATE_CHILD=1; `in_child()` is the one test of "am I already a
launched process" (that flag, or a WORLD_SIZE > 1 set by a launcher the user ran), so nothing
relaunches twice. Ctrl-C and SIGTERM reach the children and come back as `Interrupted`, which the
command line turns into exit 130 / 143 and a line saying how to resume.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from symtune.errors import SymtuneError

CHILD_ENV = "SYMTUNE_ACCELERATE_CHILD"
CONFIG_DIR = Path(__file__).resolve().parent / "accelerate_configs"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (exit 130) or SIGTERM (exit 143), raised where the work was."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + int(signum)


_pending: int | None = None  # the signal that arrived during this command, until the command ends
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _in_finalizer(frame) -> bool:
    """True when the signal arrived inside a __del__: Python prints and drops an exception raised there."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def _on_signal(signum, frame):
    global _pending
    _pending = signum
    if not _in_finalizer(frame):  # there, raising would be swallowed: check_interrupted() raises it later
        raise Interrupted(signum)


def check_interrupted() -> None:
    """Raise Interrupted if Ctrl-C or SIGTERM arrived and its exception has not stopped the work.

    The handler raises where the signal lands, but an exception raised in a finalizer (a __del__ running
    during garbage collection) or caught by library code is lost; loops and atomic commits call this so
    such a signal still stops the command before it writes anything more."""
    if _pending is not None:
        raise Interrupted(_pending)


def install_signal_handlers():
    """Ctrl-C and SIGTERM raise Interrupted (a KeyboardInterrupt), so stages stop through one path.

    Returns the previous handlers (give them to `restore_signal_handlers`). The outermost call starts
    the command with no signal pending."""
    global _pending
    try:
        previous = {s: signal.signal(s, _on_signal) for s in SIGNALS}
    except ValueError:  # not the main thread (e.g. a test runner's worker): leave it alone
        return None
    if previous[signal.SIGTERM] is not _on_signal:
        _pending = None
    return previous


def restore_signal_handlers(previous) -> None:
    global _pending
    if previous is None:
        return
    for s, handler in previous.items():
        signal.signal(s, handler)
    if previous[signal.SIGTERM] is not _on_signal:  # the command is over
        _pending = None


def in_child() -> bool:
    """True inside a process started by `launch()` or by any accelerate/torchrun launcher."""
    return os.environ.get(CHILD_ENV) == "1" or int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


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


def local_launch_args(num_processes: int) -> list[str]:
    """`accelerate launch` options for N processes on this machine without a config file (CPU: gloo)."""
    return ["--multi_gpu", "--num_processes", str(num_processes), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no"]


def launch(verb: str, cfg, *, accelerate_config: str | None = None, processes: int | None = None,
           verb_args: list[str] | None = None, env_extra: dict | None = None) -> None:
    """Run `symtune <verb>` with the resolved `cfg` under `accelerate launch`; wait for it.

    Exactly one of accelerate_config (a shipped name or a YAML path) and processes (local data parallel)."""
    launch_args = (["--config_file", str(resolve_accelerate_config(accelerate_config))] if accelerate_config
                   else local_launch_args(processes or 1))
    d = dataclasses.asdict(cfg)
    if "accelerate_config" in d:
        d["accelerate_config"] = None
    fd, tmp = tempfile.mkstemp(prefix=f"symtune-{verb}-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(d, fh, sort_keys=False)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *launch_args, "-m", "symtune.cli", verb,
           "--config", tmp, *(verb_args or [])]
    from symtune import ownership

    # the output folders this process holds locked: the children write them for it, so they skip the lock
    env = dict(os.environ, **{CHILD_ENV: "1", ownership.HELD_ENV: os.pathsep.join(ownership.held())},
               **(env_extra or {}))
    print(f"symtune {verb}: relaunching: " + " ".join(cmd), file=sys.stderr, flush=True)
    try:
        proc = subprocess.Popen(cmd, env=env)
        try:
            rc = proc.wait()
        except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM here: pass it on, let the children save and stop
            proc.send_signal(signal.SIGTERM if isinstance(e, Interrupted) and e.exit_code == 143 else signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
    finally:
        os.unlink(tmp)
    if rc in (130, 143, -signal.SIGINT, -signal.SIGTERM):
        raise Interrupted(signal.SIGTERM if rc in (143, -signal.SIGTERM) else signal.SIGINT)
    if rc != 0:
        what = accelerate_config or f"{processes} processes"
        raise SymtuneError(f"symtune {verb} under accelerate ({what}) failed with exit status {rc}; "
                           "see the messages above")


def rss_bytes() -> int | None:
    """This process's resident memory (Linux /proc), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def release_memory() -> tuple[int | None, int | None]:
    """Collect garbage and hand freed heap pages back to the OS; returns RSS (bytes) before and after.

    `symtune run` trains in its own process, then evaluates in child processes: glibc keeps the freed
    training heap (10.7 GB after the demo's training), memory the evaluation children then lack on a 24 GB
    machine. malloc_trim returns it (1.2 GB left in the demo); elsewhere (macOS, musl) it is skipped."""
    import gc

    before = rss_bytes()
    gc.collect()
    if sys.platform.startswith("linux"):
        import ctypes
        import ctypes.util

        try:
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass
    return before, rss_bytes()
