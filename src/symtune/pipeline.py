"""`symtune run`: the whole study, stage by stage, each in its own folder under OUT.

    symtune run --preset quick --out runs/demo

    OUT/data/        tuning rows (data.jsonl) + stats.json
    OUT/eval_base/   base model: results.json + samples_*.jsonl
    OUT/train/       adapter or model, log.jsonl, loss.png
    OUT/eval_tuned/  tuned model, the same prompts and seeds as eval_base
    OUT/report/      report.md, report.html, PNGs
    OUT/run.json     resolved config, provenance, per-stage timings

Each stage writes OUT/<stage>/stage.json last, holding the hash of everything it depends on
(its own settings and the hashes of the stages it reads). A stage whose stage.json matches is
skipped; a stage killed part-way is rerun and resumes (evaluation from its samples, training
from its last checkpoint); a changed setting reruns that stage and every stage after it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.provenance import provenance, stable_hash, write_json_atomic
from symtune.run_config import RunConfig

STAGES = ("data", "eval_base", "train", "eval_tuned", "report")
LABEL_MODE = {"none": "symbols", "natural-labels": "natural", "random-labels": "random"}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- per-stage settings -------------------------------------------------------------------------
def data_settings(cfg: RunConfig) -> dict:
    return {
        "tasks": list(cfg.tune_tasks), "task_config": cfg.task_config, "n_prompts": cfg.n_prompts,
        "seed": cfg.seed, "model": cfg.model, "min_exemplars": cfg.min_exemplars,
        "max_exemplars": cfg.max_exemplars, "max_length": cfg.data_max_length,
        "symbol_fraction": cfg.symbol_fraction, "label_mode": LABEL_MODE[cfg.control],
        "symbol_families": list(cfg.symbol_families), "max_symbol_tokens": cfg.max_symbol_tokens,
    }


def eval_args(cfg: RunConfig, runtime: bool = True) -> list[str]:
    """`symtune eval` options of a stage; runtime=False leaves out those that cannot change results."""
    args = ["--model", cfg.model, "--suite", cfg.suite, "--k", str(cfg.k), "--limit", str(cfg.limit),
            "--seed", str(cfg.seed), "--batch-size", str(cfg.eval_batch_size), "--dtype", cfg.eval_dtype,
            "--scoring", cfg.scoring]
    if cfg.eval_tasks:
        args += ["--tasks", ",".join(cfg.eval_tasks)]
    if cfg.task_config:
        args += ["--task-config", cfg.task_config]
    if cfg.eval_max_length:
        args += ["--max-length", str(cfg.eval_max_length)]
    if runtime and cfg.eval_processes > 1:
        args += ["--processes", str(cfg.eval_processes)]
    return args


def train_args(cfg: RunConfig) -> list[str]:
    args = ["--model", cfg.model, "--method", cfg.method, "--steps", str(cfg.steps),
            "--batch-size", str(cfg.batch_size), "--grad-accum", str(cfg.grad_accum), "--loss", cfg.loss,
            "--seed", str(cfg.seed), "--dtype", cfg.train_dtype, "--max-length", str(cfg.data_max_length)]
    if cfg.lr is not None:
        args += ["--lr", repr(cfg.lr)]
    if cfg.accelerate_config:
        args += ["--accelerate-config", cfg.accelerate_config]
    return args


def stage_hashes(cfg: RunConfig) -> dict:
    h = {}
    h["data"] = stable_hash({"data": data_settings(cfg)})
    h["eval_base"] = stable_hash({"eval": eval_args(cfg, runtime=False)})
    h["train"] = stable_hash({"train": train_args(cfg), "data": h["data"]})
    h["eval_tuned"] = stable_hash({"eval": eval_args(cfg, runtime=False), "train": h["train"]})
    h["report"] = stable_hash({"report": 1, "eval_base": h["eval_base"], "eval_tuned": h["eval_tuned"],
                               "train": h["train"], "data": h["data"]})
    return h


# -- run folder bookkeeping ---------------------------------------------------------------------
def _stage_done(out: Path, stage: str, digest: str) -> dict | None:
    marker = out / stage / "stage.json"
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return info if info.get("hash") == digest else None


RUNTIME_KEYS = ("eval_processes",)  # cannot change results: a run folder accepts any value


def _diff_keys(old: dict, new: dict) -> list[str]:
    keys = sorted((set(old) | set(new)) - set(RUNTIME_KEYS))
    return [f"{k} ({old.get(k)!r} -> {new.get(k)!r})" for k in keys if old.get(k) != new.get(k)]


def check_run_folder(out: Path, cfg: RunConfig, force: bool) -> None:
    run_json = out / "run.json"
    if not run_json.is_file():
        if out.exists() and any(out.iterdir()) and not force:
            raise SymtuneError(f"output folder {out} is not empty and holds no symtune run; "
                               "choose a new --out or pass --force")
        return
    try:
        old = json.loads(run_json.read_text(encoding="utf-8")).get("config", {})
    except (OSError, json.JSONDecodeError):
        old = {}
    diff = _diff_keys(old, dataclasses.asdict(cfg))
    if diff and not force:
        raise SymtuneError(f"{out} holds a run with a different config: {'; '.join(diff)}; "
                           "use another --out, or --force to rerun the stages that depend on them")


# -- the stages -----------------------------------------------------------------------------------
def _cli(argv: list[str]) -> None:
    from symtune.cli import main

    rc = main(argv)
    if rc != 0:
        raise SymtuneError(f"stage command `symtune {' '.join(argv[:1])}` failed with exit code {rc}")


def run_data(cfg: RunConfig, stage_dir: Path) -> None:
    from symtune.config import from_dict
    from symtune.data.config import DataConfig
    from symtune.data.run import build_dataset, stats_path

    dcfg = from_dict(DataConfig, data_settings(cfg), source="run config")
    out = stage_dir / "data.jsonl"
    build_dataset(dcfg, out)
    stats_path(out).replace(stage_dir / "stats.json")


def run_eval(cfg: RunConfig, stage_dir: Path, adapter_or_model: tuple[str, str] | None = None) -> None:
    args = ["eval"] + eval_args(cfg) + ["--out", str(stage_dir)]
    if adapter_or_model:
        kind, path = adapter_or_model
        if kind == "adapter":
            args += ["--adapter", path]
        else:
            args[args.index("--model") + 1] = path
    _cli(args)


def run_train(cfg: RunConfig, stage_dir: Path, data_file: Path) -> None:
    args = ["train"] + train_args(cfg) + ["--data", str(data_file), "--out", str(stage_dir)]
    if (stage_dir / "checkpoints").is_dir() and any((stage_dir / "checkpoints").iterdir()):
        args.append("--resume")
    _cli(args)


def tuned_weights(cfg: RunConfig, train_dir: Path) -> tuple[str, str]:
    return ("adapter", str(train_dir)) if cfg.method == "lora" else ("model", str(train_dir))


def run_report(out: Path, stage_dir: Path) -> None:
    _cli(["report", str(out), "--out", str(stage_dir)])


def run_pipeline(cfg: RunConfig, out: str | Path, force: bool = False, stop_after: str | None = None) -> dict:
    out = Path(out)
    check_run_folder(out, cfg, force)
    out.mkdir(parents=True, exist_ok=True)
    hashes = stage_hashes(cfg)
    run_json = out / "run.json"
    state = {"config": dataclasses.asdict(cfg), "provenance": provenance(), "stage_hashes": hashes,
             "timings": {}, "skipped": [], "status": "running"}
    if run_json.is_file():
        try:
            state["timings"] = json.loads(run_json.read_text(encoding="utf-8")).get("timings", {})
        except (OSError, json.JSONDecodeError):
            pass
    write_json_atomic(run_json, state)

    actions = {
        "data": lambda d: run_data(cfg, d),
        "eval_base": lambda d: run_eval(cfg, d),
        "train": lambda d: run_train(cfg, d, out / "data" / "data.jsonl"),
        "eval_tuned": lambda d: run_eval(cfg, d, tuned_weights(cfg, out / "train")),
        "report": lambda d: run_report(out, d),
    }
    for i, stage in enumerate(STAGES, 1):
        stage_dir = out / stage
        done = _stage_done(out, stage, hashes[stage])
        if done is not None:
            _log(f"[{i}/{len(STAGES)}] {stage}: up to date, skipped ({done.get('seconds', 0):.0f} s last time)")
            state["skipped"].append(stage)
            state["timings"][stage] = done.get("seconds")
        else:
            marker = stage_dir / "stage.json"
            started = out / ".stages" / f"{stage}.started"  # outside stage_dir: stages want an empty folder
            stale = marker.is_file() or (started.is_file() and started.read_text().strip() != hashes[stage])
            if stale and stage_dir.exists():  # settings changed since this folder was written: stale
                shutil.rmtree(stage_dir)
            resuming = started.is_file()
            _log(f"[{i}/{len(STAGES)}] {stage}: {'resuming' if resuming else 'running'}")
            stage_dir.mkdir(parents=True, exist_ok=True)
            started.parent.mkdir(exist_ok=True)
            started.write_text(hashes[stage] + "\n")
            t0 = time.perf_counter()
            actions[stage](stage_dir)
            seconds = round(time.perf_counter() - t0, 1)
            write_json_atomic(marker, {"stage": stage, "hash": hashes[stage], "seconds": seconds,
                                       "completed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            state["timings"][stage] = seconds
            _log(f"[{i}/{len(STAGES)}] {stage}: done in {seconds:.0f} s")
        write_json_atomic(run_json, state)
        if stop_after == stage:
            break
    state["status"] = "complete" if stop_after in (None, "report") else f"stopped after {stop_after}"
    write_json_atomic(run_json, state)
    return state
