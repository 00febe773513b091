"""Guards against silent garbage in training: hyperparameter ranges, and a run that goes non-finite.

    symtune train --weight-decay nan ...   # refused before any work: "option 'weight_decay' ..."
    symtune train ...                      # a NaN/inf loss or weight stops the run at that step

`check_hyperparameters(cfg)` runs with the trainer's other option checks (so `symtune run` checks it
before its first stage); `callbacks.NonFiniteGuard` is the TrainerCallback that raises `Diverged` at
the first optimizer step whose loss or trainable weights are not finite, before that step is checkpointed.
"""

from __future__ import annotations

import math

from symtune.errors import SymtuneError


def _finite(name: str, value, minimum: float | None = None, strict: bool = False, hint: str = "") -> None:
    if value is None:
        return
    bad = not math.isfinite(value)
    if not bad and minimum is not None:
        bad = value <= minimum if strict else value < minimum
    if bad:
        rel = ">" if strict else ">="
        rng = f" {rel} {minimum:g}" if minimum is not None else ""
        raise SymtuneError(f"option '{name}' must be a finite number{rng}, got {value}" + (f"; {hint}" if hint else ""))


def check_hyperparameters(cfg) -> None:
    """Non-finite or meaningless values of TrainConfig's numeric options, as one-line errors."""
    _finite("lr", cfg.lr, 0.0, strict=True)
    _finite("weight_decay", cfg.weight_decay, 0.0, hint="use 0 for none")
    _finite("max_grad_norm", cfg.max_grad_norm, 0.0, hint="use 0 to turn clipping off")
    _finite("lora_alpha", cfg.lora_alpha, 0.0, strict=True,
            hint="the adapter's scale is alpha / r, so 0 gives an adapter that does nothing")
    _finite("lora_dropout", cfg.lora_dropout, 0.0)
    if not cfg.lora_dropout < 1:
        raise SymtuneError(f"option 'lora_dropout' must be in [0, 1), got {cfg.lora_dropout}")
    for name in ("dense_min_seen", "dense_weight"):
        if getattr(cfg, name, None) is not None and cfg.loss != "dense":
            raise SymtuneError(f"option '{name}' applies to loss dense only; set loss: dense or unset it")
    if cfg.dense_min_seen is not None and cfg.dense_min_seen < 1:
        raise SymtuneError(f"option 'dense_min_seen' must be at least 1 (or unset), got {cfg.dense_min_seen}")
    w = cfg.dense_weight
    if w is not None and not (math.isfinite(w) and 0 < w < 1):
        raise SymtuneError(f"option 'dense_weight' must be in (0, 1) (or unset for weight 1 per token), got {w}")


class Diverged(Exception):
    def __init__(self, step: int, what: str):
        super().__init__(f"step {step}: {what}")
        self.step, self.what = step, what


def diverged_message(out, e: Diverged) -> str:
    return (f"training in {out} diverged at step {e.step}: {e.what}, so it stopped (nothing saved from that "
            "step); lower --lr, keep --max-grad-norm on, check the data, and train into a new --out")
