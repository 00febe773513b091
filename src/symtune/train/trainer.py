"""run_training: symbol tuning with Hugging Face `Trainer` (+ PEFT LoRA, accelerate for devices and processes).

    symtune train --data rows.jsonl --out runs/lora --steps 100

This module wires the pieces together; each lives in its own file:

- loss.py: `SymtuneTrainer.compute_loss`, the vocabulary projection only at supervised positions, the
  loss divided by supervised tokens over accumulated micro-batches and processes.
- callbacks.py: DIR/log.jsonl (one row per optimizer step and evaluation), loss.png, checkpoint markers,
  the non-finite guard and the ICL probe (probe.py builds and scores its prompts).
- folder.py: the output folder, complete checkpoints, and whether a rerun may continue a run (a rerun
  of the same command resumes from the last complete checkpoint; a kill after the last checkpoint
  trains no extra step).
- guards.py: hyperparameter ranges, and what a run that goes NaN raises and prints.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.train.config import TrainConfig
from symtune.train.folder import (CKPT_RE, MARKER, META, check_out_dir, file_sha, last_complete_checkpoint,
                                  semantic_config)
from symtune.train.tracking import report_to as trackers


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def _checkpointing_args(TrainingArguments, on: bool) -> dict:
    """activation_checkpointing (transformers >= 5.x) or the older gradient_checkpointing names."""
    if not on:
        return {}
    import dataclasses

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    key = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return {key: True, key + "_kwargs": {"use_reentrant": False}}


def validate(cfg: TrainConfig) -> None:
    """Every check of the train stage that needs neither the model nor the rows (cfg.data may not exist
    yet: in `symtune run` the data stage writes it). train() and run_training() call it first, and
    `symtune run` calls it before any stage starts."""
    if not cfg.data:
        raise SymtuneError("no training data given; pass --data FILE.jsonl (rows written by `symtune data`)")
    if not cfg.out:
        raise SymtuneError("no output folder given; pass --out DIR")
    from symtune.paths import check_output

    check_output(cfg.out, kind="folder", option="--out")  # unwritable or a file: before any setup
    for name in ("steps", "batch_size", "grad_accum", "max_length", "lora_r"):
        if getattr(cfg, name) < 1:
            raise SymtuneError(f"option '{name}' must be at least 1, got {getattr(cfg, name)}")
    for name in ("warmup_steps", "eval_every", "save_every", "eval_rows", "threads", "save_total_limit", "probe_every"):
        if getattr(cfg, name) < 0:
            raise SymtuneError(f"option '{name}' must not be negative, got {getattr(cfg, name)}")
    from symtune.train.guards import check_hyperparameters

    check_hyperparameters(cfg)  # non-finite or meaningless lr, weight_decay, max_grad_norm, lora_alpha, ...
    if cfg.probe_every:
        if cfg.probe_rows < 1 or cfg.probe_canary_queries < 1:
            raise SymtuneError("options 'probe_rows' and 'probe_canary_queries' must be at least 1")
        if cfg.probe_data and not Path(cfg.probe_data).is_file():
            raise SymtuneError(f"probe_data {cfg.probe_data} does not exist; pass a JSONL of rows written by "
                               "`symtune data`, or leave it unset to probe the tuning tasks")
        if cfg.probe_canary:
            from symtune.tasks.registry import get_task

            get_task(cfg.probe_canary)  # unknown names: one line listing the tasks
    if cfg.natural_loss == "kl" and cfg.method != "lora":
        raise SymtuneError("natural_loss kl takes the base distribution from the model with its LoRA adapter "
                           "disabled; use method lora, or natural_loss ce with method full")
    if cfg.method == "lora" and not cfg.target_modules:
        raise SymtuneError("option 'target_modules' is empty; name the modules LoRA adapts (e.g. q_proj,v_proj)")
    if cfg.eval_data and not Path(cfg.eval_data).expanduser().is_file():
        raise SymtuneError(f"option 'eval_data': {cfg.eval_data} is not a file; pass a JSONL of rows written by "
                           "`symtune data`, or leave it unset to hold out eval_rows training rows")
    if cfg.accelerate_config:
        from symtune.runtime import resolve_accelerate_config

        resolve_accelerate_config(cfg.accelerate_config)  # unknown name or not an accelerate YAML: one line
    trackers(cfg.report_to)  # unknown or uninstalled tracker: one line before the model loads
    from symtune.hardware import resolve

    resolve(cfg.device, cfg.dtype, "train")  # float16, or a device that is not there: one line


def run_training(cfg: TrainConfig, extra_callbacks: list | None = None, quiet: bool = False) -> dict:
    """Train per `cfg`; returns the final symtune_train.json contents. Raises SymtuneError on bad input.

    The output folder is locked while training: a second run into it is refused with one line."""
    from symtune import ownership

    import dataclasses

    from symtune.hardware import resolve_config
    from symtune.train.data import load_rows

    validate(cfg)
    load_rows(cfg.data)  # a refused folder or unreadable rows: one line before the lock file is made there
    resolved = resolve_config(cfg, "train")[0]
    check_out_dir(resolved, dataclasses.asdict(resolved), file_sha(cfg.data))
    with ownership.locked(cfg.out):
        return _run_training(cfg, extra_callbacks, quiet)


def _run_training(cfg: TrainConfig, extra_callbacks: list | None, quiet: bool) -> dict:
    """The recipe, as named steps: rows -> tokens -> process -> record -> model -> Trainer -> train -> save."""
    from symtune import config as cfgmod
    from symtune.hardware import resolve_config

    t_start = time.perf_counter()
    validate(cfg)
    cfg, hw = resolve_config(cfg, "train")  # what is recorded and compared on resume: the resolved pair
    cfg_dict = cfgmod.to_dict(cfg)
    rows, eval_rows = _setup_rows(cfg)
    data_sha = file_sha(cfg.data)
    prev = check_out_dir(cfg, cfg_dict, data_sha)
    if prev and prev.get("status") == "complete":
        if not quiet:
            print(f"symtune train: {cfg.out} already holds the finished run; nothing to do")
        return prev
    from symtune.models import load_tokenizer, resolve_model

    model_path = resolve_model(cfg.model)
    tok = load_tokenizer(model_path)
    items, stats, eval_items, probe_sets = _setup_tokens(cfg, tok, rows, eval_rows)
    state = _setup_process(cfg, hw)
    run = _Run(cfg, Path(cfg.out), hw, state, quiet)
    run.resume_from = last_complete_checkpoint(run.ckpt_dir) if prev else None  # same config: the same command resumes
    run.start_record(cfg_dict, model_path, data_sha, stats, eval_items)
    model = _setup_model(cfg, model_path)
    _record_model(run, model, stats)
    trainer = _setup_trainer(run, model, tok, items, eval_items, probe_sets, extra_callbacks)
    t_load = time.perf_counter() - t_start
    t0 = time.perf_counter()
    _train(run, trainer)
    run.finish(trainer, tok, t_load, time.perf_counter() - t0, t_start)
    return run.meta


def _setup_rows(cfg: TrainConfig) -> tuple[list, list | None]:
    """The training rows, and the held-out rows when eval_every is set (a file, or a seeded share)."""
    import random

    from symtune.train.data import load_rows

    rows = load_rows(cfg.data)
    if not cfg.eval_every:
        return rows, None
    if cfg.eval_data:
        return rows, load_rows(cfg.eval_data)
    n = min(cfg.eval_rows, len(rows) // 2)
    if n < 1:
        raise SymtuneError("eval_every is set but there are too few rows to hold out; pass --eval-data")
    order = list(range(len(rows)))
    random.Random(cfg.seed).shuffle(order)
    held = set(order[:n])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


def _setup_tokens(cfg: TrainConfig, tok, rows: list, eval_rows: list | None):
    """Rows -> token ids and label masks (and the probe's prompts): (items, stats, eval_items, probe_sets)."""
    from symtune.train.data import encode_rows

    common = dict(loss=cfg.loss, add_eos=cfg.add_eos, max_length=cfg.max_length, overlong=cfg.overlong,
                  natural_loss=cfg.natural_loss, dense_min_seen=cfg.dense_min_seen, dense_weight=cfg.dense_weight)
    items, stats = encode_rows(tok, rows, source=cfg.data, **common)
    probe_sets = None
    if cfg.probe_every:
        from symtune.train.probe import build_probe

        probe_sets = build_probe(cfg, rows, tok)
    eval_items = None
    if eval_rows is not None:
        eval_items, _ = encode_rows(tok, eval_rows, source=cfg.eval_data or cfg.data, **common)
    return items, stats, eval_items, probe_sets


def _setup_process(cfg: TrainConfig, hw):
    """Threads and allocator (CPU only), then accelerate's process state; every process has checked the
    folder before the main one writes to it."""
    import torch
    from accelerate import PartialState

    on_cpu = hw.device == "cpu"
    if cfg.threads and on_cpu:  # thread pools and the allocator are CPU settings
        torch.set_num_threads(cfg.threads)
    if cfg.low_memory and on_cpu:
        from symtune.train.memory import limit_heap_fragmentation

        limit_heap_fragmentation()
    state = PartialState(cpu=on_cpu)
    state.wait_for_everyone()
    return state


def _setup_model(cfg: TrainConfig, model_path: str):
    """The base model in the resolved dtype, wrapped in a LoRA adapter unless method is full."""
    from transformers import set_seed

    from symtune.models import load_model

    set_seed(cfg.seed)
    model = load_model(model_path, dtype=cfg.dtype)
    model.config.use_cache = False
    if cfg.method != "lora":
        return model
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [m for m in cfg.target_modules if m not in names]
    if missing:
        raise SymtuneError(f"target_modules {', '.join(missing)} not found in {cfg.model}; "
                           f"pick from its linear layers (e.g. q_proj, v_proj)")
    lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM")
    from symtune.quiet import known_noise_filtered

    with known_noise_filtered():
        return get_peft_model(model, lcfg)


def _record_model(run: "_Run", model, stats) -> None:
    """Parameter counts and the gradient-checkpointing decision (memory-driven) into the run's record."""
    from symtune.train.memory import checkpointing_decision

    run.meta.update(trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
                    total_params=sum(p.numel() for p in model.parameters()))
    on, why = checkpointing_decision(run.cfg, model.config, run.hw, stats.max_tokens)
    run.meta["gradient_checkpointing"] = {"on": on, "why": why}
    run.say(f"symtune train: gradient checkpointing {'on' if on else 'off'} ({why})")


def _training_args(run: "_Run", with_eval: bool):
    from transformers import TrainingArguments

    cfg = run.cfg
    sched = {"constant": "constant_with_warmup", "cosine": "cosine", "linear": "linear"}[cfg.schedule]
    return TrainingArguments(
        output_dir=str(run.ckpt_dir),
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.resolved_lr,
        lr_scheduler_type=sched,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        optim="adamw_torch",
        logging_steps=1,
        save_strategy="steps" if cfg.save_every else "no",
        save_steps=cfg.save_every or 1,
        save_total_limit=cfg.save_total_limit or None,
        eval_strategy="steps" if with_eval else "no",
        eval_steps=cfg.eval_every or None,
        prediction_loss_only=True,
        label_names=["labels"],
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=trackers(cfg.report_to) or "none",
        disable_tqdm=run.quiet,
        **_checkpointing_args(TrainingArguments, run.meta["gradient_checkpointing"]["on"]),
        ddp_find_unused_parameters=False,
        use_cpu=run.hw.device == "cpu",
    )


def _setup_trainer(run: "_Run", model, tok, items, eval_items, probe_sets, extra_callbacks):
    """symtune's Trainer (loss.py) with the step log, checkpoint marker, NaN guard and probe callbacks."""
    from symtune.train.callbacks import InterruptGuard, NonFiniteGuard, ProbeCallback, make_callbacks  # transformers
    from symtune.train.data import Collator, EncodedDataset
    from symtune.train.loss import SymtuneTrainer

    cfg = run.cfg
    log_cb, marker_cb = make_callbacks(run.log_path, run.png_path, run.title)
    probe_cb = [ProbeCallback(cfg, probe_sets, tok, run.log_path, quiet=run.quiet)] if probe_sets is not None else []
    trainer = SymtuneTrainer(model=model, args=_training_args(run, eval_items is not None),
                      train_dataset=EncodedDataset(items),
                      eval_dataset=EncodedDataset(eval_items) if eval_items is not None else None,
                      data_collator=Collator(tok.pad_token_id, packing=cfg.packing,
                                             weighted=cfg.dense_weight is not None),
                      processing_class=tok,
                      callbacks=[InterruptGuard(), NonFiniteGuard(), marker_cb, log_cb, *probe_cb, *(extra_callbacks or [])])
    for cb in [log_cb, *probe_cb]:
        cb.trainer = trainer
    return trainer


def _train(run: "_Run", trainer) -> None:
    """Train, from the last complete checkpoint when resuming; a diverged run is recorded and one line."""
    from symtune.provenance import write_json_atomic
    from symtune.train.guards import Diverged, diverged_message

    if run.step0 >= run.cfg.steps:
        # Killed after the last checkpoint was complete: nothing is left to train. Trainer would run one
        # more step when resuming mid-epoch at max_steps, so restore the weights and state instead
        # (Trainer has no public call for that; tests/test_hostile_train.py "at the last checkpoint"
        # pins the behaviour).
        from transformers import TrainerState

        trainer._load_from_checkpoint(str(run.resume_from))
        trainer.state = TrainerState.load_from_json(str(run.resume_from / "trainer_state.json"))
        return
    try:
        trainer.train(resume_from_checkpoint=str(run.resume_from) if run.resume_from else None)
    except Diverged as e:
        if run.state.is_main_process:
            run.meta.update(status="diverged", diverged=str(e))
            write_json_atomic(run.meta_path, run.meta)
        raise SymtuneError(diverged_message(run.out, e)) from None


class _Run:
    """One training folder's paths and record (symtune_train.json), written by the main process only."""

    def __init__(self, cfg: TrainConfig, out: Path, hw, state, quiet: bool):
        self.cfg, self.out, self.hw, self.state, self.quiet = cfg, out, hw, state, quiet
        self.ckpt_dir = out / "checkpoints"
        self.log_path, self.png_path, self.meta_path = out / "log.jsonl", out / "loss.png", out / META
        self.title = f"{Path(cfg.model).name} {cfg.method} ({cfg.loss} loss, lr {cfg.resolved_lr:g})"
        self.resume_from: Path | None = None
        self.meta: dict = {}

    @property
    def step0(self) -> int:
        return int(CKPT_RE.match(self.resume_from.name).group(1)) if self.resume_from else 0

    def say(self, line: str) -> None:
        if not self.quiet and self.state.is_main_process:
            print(line, file=sys.stderr)

    def start_record(self, cfg_dict: dict, model_path: str, data_sha: str, stats, eval_items) -> None:
        """symtune_train.json with status running; the log cut back to the checkpoint resumed from."""
        from symtune import ownership
        from symtune.card import CARD
        from symtune.hardware import announce
        from symtune.provenance import provenance, stable_hash, write_json_atomic

        cfg = self.cfg
        self.meta = {
            "status": "running", "config": cfg_dict, "config_hash": stable_hash(semantic_config(cfg_dict)),
            "lr": cfg.resolved_lr, "model_path": model_path,
            "seeds": {"seed": cfg.seed, "data_seed": cfg.seed, "eval_holdout_seed": cfg.seed},
            "data": {"path": str(Path(cfg.data).resolve()), "sha256": data_sha, **stats.as_dict()},
            "eval_rows": len(eval_items) if eval_items is not None else 0,
            "world_size": self.state.num_processes, "device": self.hw.device, "hardware": self.hw.as_dict(),
            "provenance": provenance(),
            "resumed_from": str(self.resume_from) if self.resume_from else None,
        }
        if self.state.is_main_process:
            ownership.claim(self.out, META, self.log_path.name, self.png_path.name, self.ckpt_dir.name, CARD)
            write_json_atomic(self.meta_path, self.meta)
            if self.log_path.is_file():  # drop log rows after the checkpoint we resume from (or all of them)
                from symtune.provenance import read_jsonl, write_jsonl_atomic

                write_jsonl_atomic(self.log_path, [r for r in read_jsonl(self.log_path)
                                                   if r.get("step", 0) <= self.step0])
        if not self.quiet and self.state.is_main_process:
            announce(self.hw, "train")
        self.say(f"symtune train: {stats.kept} rows ({stats.dropped_overlong} dropped as longer than "
                 f"{cfg.max_length} tokens), {stats.completion_tokens + stats.dense_tokens} supervised tokens, "
                 f"mean {stats.as_dict()['mean_tokens']} tokens/row"
                 + (f"; resuming from {self.resume_from}" if self.resume_from else ""))
        if cfg.natural_loss == "kl":
            self.say(f"symtune train: {stats.kl_rows} natural-label rows trained by KL to the base model"
                     + ("" if stats.kl_rows else " (none: natural_loss kl has no effect; build data with "
                        "symbol_fraction < 1)"))

    def finish(self, trainer, tok, t_load: float, t_train: float, t_start: float) -> None:
        """Weights and tokenizer, loss.png, the completed record and the model card."""
        import contextlib

        from symtune import ownership
        from symtune.provenance import read_jsonl, write_json_atomic

        main = self.state.is_main_process
        # the weight, config and tokenizer files save_pretrained writes become symtune's in the folder's list
        with ownership.recording(self.out) if main else contextlib.nullcontext():
            trainer.save_model(str(self.out))  # adapter (LoRA) or full weights + config, and the tokenizer
            if main:
                tok.save_pretrained(str(self.out))
        if main:
            from symtune.card import write_model_card
            from symtune.train.plot import plot_loss

            plot_loss(self.log_path, self.png_path, self.title)
            rows = read_jsonl(self.log_path)
            logged = [r for r in rows if r.get("loss") is not None]
            tail = [r["loss"] for r in logged[-10:]]
            self.meta.update(
                status="complete",
                steps_done=trainer.state.global_step,
                first_loss=logged[0]["loss"] if logged else None,
                final_loss=logged[-1]["loss"] if logged else None,
                final_loss_mean10=round(sum(tail) / len(tail), 6) if tail else None,
                train_loss_mean=round(sum(r["loss"] for r in logged) / len(logged), 6) if logged else None,
                eval_loss=next((r["eval_loss"] for r in reversed(rows) if "eval_loss" in r), None),
                probe=[r for r in rows if "probe_s" in r] or None,
                timings={"load_s": round(t_load, 2), "train_s": round(t_train, 2),
                         "s_per_step": round(t_train / max(trainer.state.global_step - self.step0, 1), 3),
                         "total_s": round(time.perf_counter() - t_start, 2)},
                tokens_seen=trainer.state.num_input_tokens_seen,
                peak_rss_mb=round(peak_rss_mb(), 1),
            )
            write_json_atomic(self.meta_path, self.meta)
            write_model_card(self.out)  # README.md in the Hub's model-card format
        self.state.wait_for_everyone()


__all__ = ["run_training", "validate", "check_out_dir", "file_sha", "last_complete_checkpoint", "MARKER", "META"]
