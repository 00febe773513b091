"""RunConfig: the whole study of `symtune run` (data -> base eval -> tune -> tuned eval -> report).

Presets (src/symtune/presets/<name>.yaml) set these fields; a --config YAML and command-line
options override the preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from symtune.config import load_yaml, opt

PRESETS = ("quick", "default", "paper")
CONTROLS = ("none", "natural-labels", "random-labels")


@dataclass
class RunConfig:
    preset: str = opt("quick", "Preset the other fields start from.", choices=PRESETS)
    model: str = opt("smollm2-135m", "Model: bundled preset, local folder or Hugging Face Hub id.")
    control: str = opt("none", "Tune on symbols (none), or a control: natural-labels (continued instruction "
                               "tuning on the same prompts) or random-labels (exemplar labels inconsistent with inputs).",
                       choices=CONTROLS)
    seed: int = opt(0, "Seed for data, training and evaluation.")
    # data
    task_config: str | None = opt(None, "Task config for tuning and evaluation: 'paper' (Hub datasets, online) or a YAML file.")
    tune_tasks: list[str] = opt([], "Tuning tasks (empty = the default tuning mixture).")
    n_prompts: int = opt(1000, "Tuning prompts to build.")
    min_exemplars: int = opt(2, "Minimum exemplars per class in tuning prompts.")
    max_exemplars: int = opt(10, "Maximum exemplars per class in tuning prompts.")
    data_max_length: int = opt(1024, "Maximum tokens per tuning prompt (exemplars are dropped to fit).")
    symbol_families: list[str] = opt(["int", "letters", "word"], "Symbol families used in tuning.")
    max_symbol_tokens: int | None = opt(None, "Cap on a tuning symbol's token count (off = paper).")
    symbol_fraction: float = opt(1.0, "Share of symbol prompts in the tuning mixture (rest: natural labels + instruction).")
    # training
    method: str = opt("lora", "Fine-tuning method.", choices=("lora", "full"))
    steps: int = opt(100, "Optimizer steps.")
    lr: float | None = opt(None, "Learning rate (default: the trainer's default for the method).")
    batch_size: int = opt(8, "Rows per device per step.")
    grad_accum: int = opt(1, "Gradient accumulation steps.")
    loss: str = opt("label", "label: loss on the query label only (paper); dense: also repeated exemplar labels.",
                    choices=("label", "dense"))
    train_dtype: str = opt("bfloat16", "Training dtype.", choices=("float32", "bfloat16"))
    accelerate_config: str | None = opt(None, "Accelerate config name (cpu-ddp, multi-gpu, fsdp, deepspeed-zero2) or file.")
    # evaluation
    suite: str = opt("all", "Evaluation suite(s): icl (four settings), flipped, algorithmic, or all.",
                     choices=("icl", "flipped", "algorithmic", "all"))
    eval_tasks: list[str] = opt([], "Held-out evaluation tasks (empty = the default evaluation suite).")
    k: int = opt(4, "Exemplars per class at evaluation (paper: 4).")
    limit: int = opt(100, "Queries per task at evaluation (paper: at most 100).")
    eval_dtype: str = opt("float32", "Evaluation dtype.", choices=("float32", "bfloat16"))
    eval_batch_size: int = opt(8, "Evaluation batch size (does not change results).")
    eval_processes: int = opt(1, "Data-parallel evaluation processes on this machine (does not change results; "
                              "2 on a 2-core CPU is ~1.2x faster than 1).")
    eval_max_length: int | None = opt(None, "Maximum evaluation prompt tokens (default: the model's context).")
    scoring: str = opt("rank", "rank: summed log-prob of each option; generate: greedy generation + exact match.",
                       choices=("rank", "generate"))


def preset_values(name: str) -> dict:
    from symtune.errors import SymtuneError

    if name not in PRESETS:
        raise SymtuneError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    path = resources.files("symtune.presets").joinpath(f"{name}.yaml")
    values = load_yaml(str(path))
    values["preset"] = name
    return values
