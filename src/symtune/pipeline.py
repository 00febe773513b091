"""`symtune run`: the whole study, stage by stage, each in its own folder under OUT.

    symtune run --preset quick --out runs/demo

    OUT/data/        tuning rows (data.jsonl) + stats.json
    OUT/eval_base/   base model: results.json + samples_*.jsonl (cache.json if reused from the cache)
    OUT/train/       adapter or model, log.jsonl, loss.png
    OUT/eval_tuned/  tuned model, the same prompts and seeds as eval_base
    OUT/report/      report.md, report.html, PNGs
    OUT/run.json     resolved config, provenance, per-stage timings

Stages run in this process through the library functions (`build_dataset`, `train`, `evaluate`,
`build_report`), each given its stage config (`run_config.stage_configs`). Each stage writes
OUT/<stage>/stage.json last, holding the hash of everything it depends on: its config's
result-relevant fields (`config.hashed`) and the hashes of the stages it reads. A stage whose
stage.json matches is skipped; a stage killed part-way is rerun and resumes (evaluation from its
samples, training from its last checkpoint); a changed setting reruns that stage and every stage
after it. The base evaluation is looked up in the evaluation cache first (eval/cache.py).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from symtune import runtime
from symtune.config import flatten, hashed
from symtune.errors import SymtuneError
from symtune.provenance import provenance, stable_hash, write_json_atomic
from symtune.run_config import RunConfig, stage_configs, wire

STAGES = ("data", "eval_base", "train", "eval_tuned", "report")
REPORT_VERSION = 1


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- what each stage depends on -----------------------------------------------------------------
def resolved_stages(cfg: RunConfig, out: str | Path = "OUT") -> tuple[dict, dict]:
    """(stage configs with device and dtype resolved for this machine, {stage: Hardware})."""
    from symtune.hardware import resolve_config

    s, hw = dict(stage_configs(cfg, out)), {}
    for name, purpose in (("train", "train"), ("eval_base", "eval"), ("eval_tuned", "eval")):
        s[name], hw[name] = resolve_config(s[name], purpose)
    return s, hw


def stage_hashes(cfg: RunConfig, out: str | Path = "OUT") -> dict:
    """Hash per stage: its config's result-relevant fields (paths inside OUT replaced by upstream hashes),
    with `auto` device and dtype resolved, so a machine that resolves them differently reruns the stage.
    The model enters by its identity (the cache's: a hash of its files, or Hub id + commit), not only
    its path, so weights changed in place rerun every stage."""
    from symtune.eval.cache import model_identity, scorer_key

    s = resolved_stages(cfg, out)[0]
    model = model_identity(cfg.model) or {"name": cfg.model}  # a Hub model not downloaded: its name
    train = {k: v for k, v in hashed(s["train"]).items() if k not in ("data", "out")}
    evals = {**{k: v for k, v in hashed(s["eval_base"]).items() if k not in ("adapter",)}, **scorer_key(cfg.model)}
    evals_tuned = {**evals, "adapter_scale": s["eval_tuned"].adapter_scale}  # the base has no adapter to scale
    h = {"data": stable_hash({"data": hashed(s["data"]), "model": model})}  # its tokenizer drives the rows
    h["eval_base"] = stable_hash({"eval": evals, "model": model})
    h["train"] = stable_hash({"train": train, "data": h["data"], "model": model})
    h["eval_tuned"] = stable_hash({"eval": evals_tuned, "method": cfg.train.method, "train": h["train"]})
    h["report"] = stable_hash({"report": REPORT_VERSION, "eval_base": h["eval_base"],
                               "eval_tuned": h["eval_tuned"], "train": h["train"], "data": h["data"]})
    return h


def validate_stages(cfg: RunConfig, out: Path) -> list[str]:
    """Check every stage's options before any stage runs (a bad train option must not cost the base evaluation).

    Each stage is checked by the one validation function the stage itself calls first (stage_checks()), so
    an option the stage would refuse is refused here; what only a run relates (its stages with each
    other) is checked below them. Returns the evaluation tasks the run also tunes on (allowed only with
    eval.allow_tuning_overlap)."""
    s = stage_configs(cfg, out)
    produced = (s["train"].data, s["train"].out)  # written by the data and train stages of this run
    checks = stage_checks()
    tune_tasks = checks["data"](s["data"])
    resolved_stages(cfg, out)  # a device that is not there: one line before any work
    checks["train"](s["train"])
    eval_tasks = checks["eval_base"](s["eval_base"], produced=produced)
    checks["eval_tuned"](s["eval_tuned"], produced=produced)
    checks["report"](out / "report")
    if cfg.cache:
        from symtune.eval.cache import check_root

        check_root(cfg.cache_dir)  # a file or read-only: one line now, not after the base evaluation
    if cfg.train.natural_loss == "kl" and cfg.data.symbol_fraction >= 1.0:
        raise SymtuneError("train.natural_loss kl trains the natural-label share; set data.symbol_fraction below 1 "
                           "(e.g. 0.75) or use natural_loss ce")
    if cfg.eval_seed is not None and cfg.eval_seed != cfg.seed and (cfg.data.task_files or cfg.eval.task_file):
        raise SymtuneError(f"eval_seed {cfg.eval_seed} differs from seed {cfg.seed}, but a user's data file is split "
                           "into tuning and evaluation rows by the seed; leave eval_seed unset with task files")
    if cfg.eval.adapter_scale != 1.0 and cfg.train.method != "lora":
        raise SymtuneError(f"eval.adapter_scale {cfg.eval.adapter_scale:g} scales a LoRA adapter; with "
                           "train.method full leave it at 1")
    from symtune.tasks.overlap import tuning_overlap

    overlap = tuning_overlap(tune_tasks, eval_tasks, cfg.eval.split)
    if overlap and not cfg.eval.allow_tuning_overlap:
        raise SymtuneError(f"eval task(s) {', '.join(overlap)} are tuned on by this run (the same task, or its "
                           "texts); evaluating on them measures what the model was tuned on. Drop them from "
                           "eval.tasks, or pass --eval.allow_tuning_overlap to evaluate on them anyway "
                           "(the report flags it)")
    return overlap


def stage_checks() -> dict:
    """stage -> the validation function that stage calls first (options and paths, nothing loaded)."""
    from symtune.data.run import check_config
    from symtune.eval import validate as check_eval
    from symtune.report import validate as check_report
    from symtune.train.trainer import validate as check_train

    return {"data": check_config, "train": check_train, "eval_base": check_eval, "eval_tuned": check_eval,
            "report": check_report}


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


def _diff_keys(old: dict, new: dict) -> list[str]:
    old, new = flatten(old), flatten(new)
    keys = sorted(set(old) | set(new))
    return [f"{k} ({old.get(k)!r} -> {new.get(k)!r})" for k in keys if old.get(k) != new.get(k)]


def check_run_folder(out: Path, cfg: RunConfig, force: bool) -> None:
    run_json = out / "run.json"
    if out.exists() and not out.is_dir():
        raise SymtuneError(f"--out {out} is a file; pass a folder for the run")
    if not run_json.is_file():
        from symtune.ownership import user_entries

        if user_entries(out) and not force:
            raise SymtuneError(f"output folder {out} is not empty and holds no symtune run; "
                               "choose a new --out or pass --force (symtune never deletes files it did not write)")
        return
    try:
        old = json.loads(run_json.read_text(encoding="utf-8"))
        if not isinstance(old, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        if force:  # each stage's own stage.json still decides what reruns
            return
        raise SymtuneError(f"{run_json} is damaged ({str(e).splitlines()[0]}); restore it, or pass --force to "
                           "rewrite it (stages whose settings match are still skipped)") from None
    diff = _diff_keys(old.get("hashed_config", {}), hashed(cfg))
    if diff and not force:
        raise SymtuneError(f"{out} holds a run with a different config: {'; '.join(diff[:8])}; "
                           "use another --out, or --force to rerun the stages that depend on them")


# -- the stages -----------------------------------------------------------------------------------
def run_data(dcfg, stage_dir: Path) -> None:
    from symtune import ownership
    from symtune.data.run import build_dataset, stats_path

    out = stage_dir / "data.jsonl"
    ownership.claim(stage_dir, out.name, stats_path(out).name, "stats.json")
    build_dataset(dcfg, out, overwrite=True)  # the stage folder is ours: a rerun replaces its data
    stats_path(out).replace(stage_dir / "stats.json")


def run_eval_base(cfg: RunConfig, ecfg, stage_dir: Path) -> None:
    """Evaluate the base model, or copy a cached evaluation with the same address."""
    from symtune.eval import cache, evaluate

    key = root = None
    if cfg.cache:
        root = cache.cache_root(cfg.cache_dir)
        key = cache.cache_key(ecfg)
        entry = cache.lookup(key, root, note=lambda m: _log("  " + m)) if key else None
        if entry is not None:
            cache.restore(entry, stage_dir, key)
            _log(f"  reused the cached base evaluation {entry}")
            return
    evaluate(ecfg, stage_dir, log=_log)
    if key:
        cache.store(stage_dir, key, root, {"model": cfg.model})


def run_eval_tuned(ecfg, stage_dir: Path) -> None:
    from symtune.eval import evaluate

    evaluate(ecfg, stage_dir, log=_log)


def run_train(tcfg, stage_dir: Path) -> None:
    from symtune.train import train

    ckpts = stage_dir / "checkpoints"
    resume = ckpts.is_dir() and any(ckpts.iterdir())
    train(dataclasses.replace(tcfg, resume=resume))


def run_report(out: Path, stage_dir: Path) -> None:
    from symtune.report import build_report

    build_report([out], out=stage_dir)
    if (out / "train" / "symtune_train.json").is_file():  # refresh the Hub card with the tuned results
        from symtune.card import write_model_card

        write_model_card(out / "train", results=out / "eval_tuned" if (out / "eval_tuned" / "results.json").is_file() else None)


def run_pipeline(cfg: RunConfig, out: str | Path, force: bool = False, stop_after: str | None = None) -> dict:
    """Run the stages into `out`, holding its lock (a second run into it is refused with one line)."""
    from symtune import ownership

    out = Path(out)
    cfg = wire(cfg)
    check_run_folder(out, cfg, force)
    overlap = validate_stages(cfg, out)
    with ownership.locked(out):
        return _run_stages(cfg, out, stop_after, overlap)


def _run_stages(cfg: RunConfig, out: Path, stop_after: str | None, overlap: list[str] = ()) -> dict:
    from symtune import ownership

    for stage in STAGES:  # refused before any work: a link would make a stage write outside OUT
        ownership.check_entry(out, stage)
    ownership.claim(out, "run.json", ".stages")
    hashes = stage_hashes(cfg, out)
    stage_cfgs = stage_configs(cfg, out)
    run_json = out / "run.json"
    hw = resolved_stages(cfg, out)[1]
    hardware = {k: v.as_dict() for k, v in hw.items()}
    _log(f"symtune run: training on {hw['train'].device} in {hw['train'].dtype}, evaluating on {hw['eval_base'].device} "
         f"in {hw['eval_base'].dtype} ({hw['eval_base'].reason})")
    for stage in ("train", "eval_base"):
        if hw[stage].emulated:
            from symtune.hardware import emulated_warning

            _log("symtune run: " + emulated_warning(hw[stage], f"--{stage.split('_')[0]}.dtype"))
    state = {"config": dataclasses.asdict(cfg), "hashed_config": hashed(cfg), "provenance": provenance(),
             "hardware": hardware, "stage_hashes": hashes, "timings": {}, "skipped": [], "status": "running",
             "tuning_overlap": list(overlap)}  # the report flags evaluation tasks the run also tuned on
    if overlap:
        _log(f"symtune run: note: evaluating on {', '.join(overlap)}, which this run also tunes on "
             "(--eval.allow_tuning_overlap); the report flags it")
    if run_json.is_file():
        try:
            state["timings"] = json.loads(run_json.read_text(encoding="utf-8")).get("timings", {})
        except (OSError, json.JSONDecodeError):
            pass
    write_json_atomic(run_json, state)

    actions = {
        "data": lambda d: run_data(stage_cfgs["data"], d),
        "eval_base": lambda d: run_eval_base(cfg, stage_cfgs["eval_base"], d),
        "train": lambda d: run_train(stage_cfgs["train"], d),
        "eval_tuned": lambda d: run_eval_tuned(stage_cfgs["eval_tuned"], d),
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
                kept = ownership.clear(stage_dir)  # symtune's files only; a user's stay where they are
                if kept:
                    _log(f"  left {len(kept)} file(s) symtune did not write in {stage_dir}: {', '.join(kept[:3])}")
            resuming = started.is_file() and stage_dir.exists()
            _log(f"[{i}/{len(STAGES)}] {stage}: {'resuming' if resuming else 'running'}")
            stage_dir.mkdir(parents=True, exist_ok=True)
            started.parent.mkdir(exist_ok=True)
            started.write_text(hashes[stage] + "\n")
            ownership.claim(stage_dir, "stage.json")
            t0 = time.perf_counter()
            actions[stage](stage_dir)
            seconds = round(time.perf_counter() - t0, 1)
            write_json_atomic(marker, {"stage": stage, "hash": hashes[stage], "seconds": seconds,
                                       "completed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            state["timings"][stage] = seconds
            before, after = runtime.release_memory()  # the next stage's child processes need the RAM
            if before and after:
                state.setdefault("rss_gb_after_stage", {})[stage] = {"before_release": round(before / 1e9, 2),
                                                                     "after_release": round(after / 1e9, 2)}
            _log(f"[{i}/{len(STAGES)}] {stage}: done in {seconds:.0f} s"
                 + (f" (process memory {before / 1e9:.1f} GB -> {after / 1e9:.1f} GB after release)"
                    if before and after else ""))
        write_json_atomic(run_json, state)
        if stop_after == stage:
            break
    state["status"] = "complete" if stop_after in (None, "report") else f"stopped after {stop_after}"
    write_json_atomic(run_json, state)
    return state
