"""Symbol-tuning trainer: HF Trainer + PEFT LoRA (or full fine-tuning) with label-only / dense loss.

    from symtune.train import TrainConfig, run_training
    run_training(TrainConfig(model="smollm2-135m", data="rows.jsonl", out="runs/lora", steps=50))

See docs/TRAINING.md.
"""

from symtune.train.config import TrainConfig


def run_training(cfg, extra_callbacks=None, quiet=False):
    from symtune.train.trainer import run_training as _run

    return _run(cfg, extra_callbacks=extra_callbacks, quiet=quiet)


__all__ = ["TrainConfig", "run_training"]
