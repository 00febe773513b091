"""RunConfig: the whole study of `symtune run` (data -> base eval -> tune -> tuned eval -> report).

One nested config: run-level fields (model, seed, control, cache) and the three stage configs, each
declared once in its own module (DataConfig, TrainConfig, EvalConfig). Presets
(src/symtune/presets/<name>.yaml) and --config files are partial nested YAML; the command line
overrides any field by its dotted name:

    symtune run --preset quick --train.lr 1e-4 --eval.limit 50 --data.symbol_fraction 0.75 --out runs/x

The run wires some stage fields itself (WIRED): every stage uses the run's model and seed, training
reads the data stage's rows at the data stage's token limit, the tuned evaluation applies the trained
adapter. Setting those inside a
stage section is an error that names the run-level field to use instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources

from symtune.config import nested, opt, resolve
from symtune.config_yaml import load_yaml
from symtune.data.config import DataConfig
from symtune.errors import SymtuneError
from symtune.models import DEFAULT_MODEL
from symtune.eval.config import EvalConfig
from symtune.train.config import TrainConfig

PRESETS = ("quick", "quick-fp32", "default", "paper")
CONTROLS = ("none", "natural-labels", "random-labels")
LABEL_MODE = {"none": "symbols", "natural-labels": "natural", "random-labels": "random"}

# stage -> fields the run sets (and what to set instead)
WIRED = {
    "data": {"model": "model", "seed": "seed", "label_mode": "control", "force": "--force",
             "chat_template": "chat_template"},
    "train": {"model": "model", "seed": "seed", "data": "(the data stage's rows)", "out": "--out",
              "resume": "(automatic)", "max_length": "data.max_length (one token limit for the run's rows)"},
    "eval": {"model": "model", "seed": "seed (or eval_seed)", "adapter": "(the trained adapter)", "force": "--force",
             "chat_template": "chat_template"},
}


@dataclass
class RunConfig:
    preset: str = opt("quick", "Preset the other fields start from.", choices=PRESETS, runtime=True)
    model: str = opt(DEFAULT_MODEL, "Model for every stage: bundled preset, local folder or Hugging Face Hub id.")
    seed: int = opt(0, "Seed for every stage (data, training, evaluation, and the split of a user's data file).")
    eval_seed: int | None = opt(None, "Seed of the evaluation prompts (default: the run's seed). Set it to 0 when "
                                      "replicating a run with another --seed, so both training seeds are scored on "
                                      "the same queries and share the cached base evaluation.")
    control: str = opt("none", "Tune on symbols (none), or a control: natural-labels (continued instruction "
                               "tuning on the same prompts) or random-labels (exemplar labels inconsistent with inputs).",
                       choices=CONTROLS)
    chat_template: bool = opt(False, "Tune and evaluate on prompts rendered through the tokenizer's chat template "
                                     "(one user turn; the label is the assistant's answer), as instruct models are served.")
    cache: bool = opt(True, "Reuse a cached base-model evaluation with the same settings, model weights and prompt "
                            "builder (and store new ones).", runtime=True)
    cache_dir: str | None = opt(None, "Evaluation cache folder (default: $SYMTUNE_CACHE/evals, else "
                                      "~/.cache/symtune/evals).", runtime=True)
    data: DataConfig = nested(DataConfig, "Tuning data (symtune data).")
    train: TrainConfig = nested(TrainConfig, "Symbol tuning (symtune train).")
    eval: EvalConfig = nested(EvalConfig, "Base and tuned evaluation (symtune eval).")


def _merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def preset_values(name: str, _seen: tuple = ()) -> dict:
    """A preset's values; `extends: OTHER` at its top starts from OTHER's values, so a preset holds only its
    differences (quick = default with fewer steps and a smaller evaluation)."""
    if name not in PRESETS:
        raise SymtuneError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    if name in _seen:  # pragma: no cover - a packaging bug, caught by the preset tests
        raise SymtuneError(f"preset {name} extends itself ({' -> '.join(_seen + (name,))})")
    path = resources.files("symtune.presets").joinpath(f"{name}.yaml")
    values = load_yaml(str(path))
    parent = values.pop("extends", None)
    if parent:
        values = _merged(preset_values(parent, _seen + (name,)), values)
    values["preset"] = name
    return values


def _check_unwired(layer: dict, source: str) -> None:
    for stage, fields in WIRED.items():
        section = layer.get(stage)
        if not isinstance(section, dict):
            continue
        for name, instead in fields.items():
            if name in section:
                raise SymtuneError(f"{source}: '{stage}.{name}' is set by the run; set {instead} instead")


def resolve_run(config_file: str | None = None, overrides: dict | None = None) -> RunConfig:
    """Preset < --config YAML < command line (nested mappings); returns the resolved RunConfig."""
    file_layer = load_yaml(config_file) if config_file else {}
    overrides = overrides or {}
    preset = overrides.get("preset") or file_layer.get("preset") or "quick"
    layers = [(f"preset {preset}", preset_values(preset)), (str(config_file), file_layer), ("command line", overrides)]
    for source, layer in layers:
        _check_unwired(layer, source)
    return wire(resolve(RunConfig, [(source, _auto_n_prompts(layer)) for source, layer in layers]))


def _auto_n_prompts(layer: dict) -> dict:
    """`data.n_prompts: auto` is stored as null, which wire() turns into the number the steps need."""
    section = layer.get("data")
    if isinstance(section, dict) and isinstance(section.get("n_prompts"), str) \
            and section["n_prompts"].strip().lower() == "auto":
        return dict(layer, data=dict(section, n_prompts=None))
    return layer


def auto_n_prompts(train: TrainConfig) -> int:
    """Prompts for `steps` optimizer steps without repeating one: every micro-batch row of every step, plus
    the rows the trainer holds out for its evaluation loss."""
    held = train.eval_rows if train.eval_every and not train.eval_data else 0
    return train.batch_size * train.grad_accum * train.steps + held


def wire(cfg: RunConfig) -> RunConfig:
    """Copy the run-level model, seed and control into the stage sections, and the rows' token limit into
    training (so no row is built longer than training takes); paths are set per run folder."""
    n_prompts = cfg.data.n_prompts if cfg.data.n_prompts is not None else auto_n_prompts(cfg.train)
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, model=cfg.model, seed=cfg.seed, label_mode=LABEL_MODE[cfg.control],
                                 chat_template=cfg.chat_template, n_prompts=n_prompts),
        train=dataclasses.replace(cfg.train, model=cfg.model, seed=cfg.seed, max_length=cfg.data.max_length),
        eval=dataclasses.replace(cfg.eval, model=cfg.model, seed=cfg.seed if cfg.eval_seed is None else cfg.eval_seed,
                                 chat_template=cfg.chat_template))


def stage_configs(cfg: RunConfig, out) -> dict:
    """The stage configs the run executes, with the wired fields filled in (paths under `out`)."""
    from pathlib import Path

    out = Path(out)
    cfg = wire(cfg)
    data = cfg.data
    train = dataclasses.replace(cfg.train, data=str(out / "data" / "data.jsonl"), out=str(out / "train"))
    eval_base = dataclasses.replace(cfg.eval, adapter=None, force=False, adapter_scale=1.0)  # no adapter to scale
    if cfg.train.method == "lora":
        eval_tuned = dataclasses.replace(eval_base, adapter=train.out, adapter_scale=cfg.eval.adapter_scale)
    else:
        eval_tuned = dataclasses.replace(eval_base, model=train.out)
    return {"data": data, "train": train, "eval_base": eval_base, "eval_tuned": eval_tuned}
