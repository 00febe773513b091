"""Trainer callbacks: DIR/log.jsonl (one row per optimizer step and per evaluation), loss.png on
every save, the completion marker of each checkpoint (see train/folder.py), the non-finite guard and
the ICL probe."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from symtune.train.folder import MARKER


def make_callbacks(log_path: Path, png_path: Path, title: str):
    """The step log (with loss.png) and the checkpoint marker, for one training folder."""
    return StepLogCallback(log_path, png_path, title), CheckpointMarkerCallback()


class StepLogCallback(TrainerCallback):
    """One row per optimizer step (and per evaluation) in log.jsonl; loss.png redrawn on every save."""

    def __init__(self, log_path: Path, png_path: Path, title: str):
        self.log_path, self.png_path, self.title = log_path, png_path, title
        self.trainer = None
        self.t_begin = None
        self.t_last = None
        self.tokens_last = 0
        self.first_loss = None
        self.last_losses: list[float] = []

    def on_train_begin(self, args, state, control, **kw):
        self.t_begin = self.t_last = time.perf_counter()
        self.tokens_last = state.num_input_tokens_seen
        self.elapsed_before = 0.0
        if self.log_path.is_file() and state.global_step > 0:
            from symtune.provenance import read_jsonl

            rows = [r for r in read_jsonl(self.log_path) if r.get("step", 0) <= state.global_step]
            if rows:
                self.elapsed_before = max(r.get("elapsed_s", 0.0) for r in rows)

    def on_log(self, args, state, control, logs=None, **kw):
        if not state.is_world_process_zero or not logs:
            return
        now = time.perf_counter()
        row = None
        if "loss" in logs:
            tokens = state.num_input_tokens_seen - self.tokens_last
            dt = now - self.t_last
            self.t_last, self.tokens_last = now, state.num_input_tokens_seen
            loss = float(logs["loss"])
            row = {"step": state.global_step, "loss": round(loss, 6),
                   "lr": logs.get("learning_rate"), "grad_norm": _num(logs.get("grad_norm")),
                   "tokens": tokens, "tokens_per_s": round(tokens / dt, 1) if dt > 0 else None,
                   "supervised_tokens": getattr(self.trainer, "step_supervised_tokens", None),
                   "step_s": round(dt, 3), "elapsed_s": round(self.elapsed_before + now - self.t_begin, 2),
                   "epoch": round(float(logs.get("epoch", state.epoch or 0)), 4)}
            parts = getattr(self.trainer, "loss_parts", None)
            if parts is not None:  # this process's split of the step loss (per supervised position)
                row["loss_ce"] = round(parts["ce_sum"] / parts["ce_n"], 6) if parts["ce_n"] else None
                if parts["kl_n"]:
                    row["loss_kl"] = round(parts["kl_sum"] / parts["kl_n"], 6)
                    row["kl_positions"] = parts["kl_n"]
                self.trainer.reset_loss_parts()
            if self.first_loss is None:
                self.first_loss = loss
            self.last_losses = (self.last_losses + [loss])[-10:]
        elif "eval_loss" in logs:
            row = {"step": state.global_step, "eval_loss": round(float(logs["eval_loss"]), 6),
                   "elapsed_s": round(self.elapsed_before + now - self.t_begin, 2)}
        if row is not None:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")

    def on_save(self, args, state, control, **kw):
        if state.is_world_process_zero:
            from symtune.train.plot import plot_loss

            plot_loss(self.log_path, self.png_path, self.title)

class CheckpointMarkerCallback(TrainerCallback):
    """Mark checkpoint-N complete after Trainer wrote all of it (on_save runs after _save_checkpoint)."""

    def on_save(self, args, state, control, **kw):
        if not state.is_world_process_zero:
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if ckpt.is_dir():
            from symtune.provenance import write_json_atomic

            write_json_atomic(ckpt / MARKER, {"step": state.global_step, "time": time.time()})


def _num(x):
    try:
        return None if x is None else round(float(x), 6)
    except (TypeError, ValueError):
        return None


class NonFiniteGuard(TrainerCallback):
    """Raise guards.Diverged on a non-finite loss or trainable weight (the run stops with one line)."""

    def __init__(self):
        self.model = None

    def on_train_begin(self, args, state, control, model=None, **kw):
        self.model = model

    def on_step_end(self, args, state, control, model=None, **kw):
        # runs after the optimizer step and before Trainer saves that step's checkpoint
        import torch

        from symtune.train.guards import Diverged

        m = model or self.model
        if m is None:
            return
        for name, p in m.named_parameters():
            if p.requires_grad and not torch.isfinite(p.detach()).all():
                raise Diverged(state.global_step, f"non-finite (NaN or inf) trainable weight {name}")

    def on_log(self, args, state, control, logs=None, **kw):
        from symtune.train.guards import Diverged

        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise Diverged(state.global_step, f"non-finite loss ({float(loss)})")


class InterruptGuard(TrainerCallback):
    """Stop at the next step when Ctrl-C / SIGTERM arrived but its exception was lost (runtime.check_interrupted)."""

    def on_step_end(self, args, state, control, **kw):
        from symtune.runtime import check_interrupted

        check_interrupted()


class ProbeCallback(TrainerCallback):
    """Probe ICL (train/probe.py) at step 0 of a fresh run and every probe_every optimizer steps; rows go
    to log.jsonl (and through Trainer.log to the user's tracker)."""

    def __init__(self, cfg, sets: list, tok, log_path: Path, quiet: bool = False):
        self.cfg, self.sets, self.tok, self.log_path, self.quiet = cfg, sets, tok, log_path, quiet
        self.trainer = None

    def _probe(self, state, model):
        if not state.is_world_process_zero:
            return
        from symtune.train.probe import run_probe

        cfg, sets = self.cfg, self.sets
        inner = self.trainer.accelerator.unwrap_model(model) if self.trainer is not None else model
        row = {"step": state.global_step, **run_probe(inner, self.tok, sets, cfg.batch_size)}
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.trainer is not None and cfg.report_to not in ("", "none"):
            # through Trainer.log, so the user's tracker (train.report_to) draws them beside the loss
            self.trainer.log({f"probe/{s.name}_acc": row[f"probe_{s.name}_acc"] for s in sets})
        if not self.quiet:
            parts = [f"{s.name} {row[f'probe_{s.name}_acc']:.3f} (chance {row[f'probe_{s.name}_chance']:.2f})"
                     for s in sets]
            print(f"\nprobe step {state.global_step}: " + ", ".join(parts) + f" [{row['probe_s']:.0f} s]",
                  file=sys.stderr)

    def on_train_begin(self, args, state, control, model=None, **kw):
        if state.global_step == 0:
            self._probe(state, model)

    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step % self.cfg.probe_every == 0:
            self._probe(state, model)
