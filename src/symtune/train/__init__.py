"""Symbol-tuning trainer: HF Trainer + PEFT LoRA (or full fine-tuning) with label-only / dense loss.

    from symtune.train import TrainConfig, train
    train(TrainConfig(model="smollm2-135m", data="rows.jsonl", out="runs/lora", steps=50))

See docs/TRAINING.md.
"""

from symtune.train.config import TrainConfig


def run_training(cfg, extra_callbacks=None, quiet=False):
    """Train in this process (no relaunch); returns symtune_train.json's contents."""
    from symtune.train.trainer import run_training as _run

    return _run(cfg, extra_callbacks=extra_callbacks, quiet=quiet)


def train(cfg: TrainConfig, extra_callbacks=None, quiet=False) -> dict:
    """The `train` stage: in this process, or under `accelerate launch` when cfg.accelerate_config is set."""
    from symtune import runtime

    if cfg.accelerate_config and not runtime.in_child():
        import json
        from pathlib import Path

        from symtune.config import to_dict
        from symtune.train.data import load_rows
        from symtune.train.trainer import META, check_out_dir, file_sha, validate

        runtime.resolve_accelerate_config(cfg.accelerate_config)
        validate(cfg)  # fail fast (exit 2) on the common mistakes before starting processes
        load_rows(cfg.data)
        check_out_dir(cfg, to_dict(cfg), file_sha(cfg.data))
        from symtune import ownership

        with ownership.locked(cfg.out):  # held for the children too (runtime.launch tells them)
            runtime.launch("train", cfg, accelerate_config=cfg.accelerate_config)
        return json.loads((Path(cfg.out) / META).read_text(encoding="utf-8"))
    return run_training(cfg, extra_callbacks=extra_callbacks, quiet=quiet)


__all__ = ["TrainConfig", "train", "run_training"]
