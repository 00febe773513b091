"""Hub model cards: README.md in every trained adapter or model folder.

    symtune train ... --out runs/lora        # writes runs/lora/README.md at the end of training
    symtune run --out runs/x                 # the report stage refreshes runs/x/train/README.md with results

    from symtune.card import write_model_card
    write_model_card("runs/x/train", results="runs/x/eval_tuned/results.json")

The card is huggingface_hub's ModelCard: YAML metadata (base_model, library_name, tags, license and a
model-index when evaluation results are given) followed by the tuning recipe read from
symtune_train.json and a short summary of the paper setting.
"""

from __future__ import annotations

import json
from pathlib import Path

from symtune.errors import SymtuneError

CARD = "README.md"
META = "symtune_train.json"  # same name as train/trainer.py's META (not imported: keeps this light)

# Bundled presets -> (Hub id, Hub licence identifier) so the card points at the real base model.
HUB_BASE = {
    "smollm2-135m": ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0"),
    "gemma3-270m": ("google/gemma-3-270m", "gemma"),
}

# Recipe rows shown in the card, in this order (keys of symtune_train.json's config).
RECIPE_KEYS = ("method", "loss", "steps", "lr", "batch_size", "grad_accum", "schedule", "warmup_steps",
               "weight_decay", "max_length", "lora_r", "lora_alpha", "lora_dropout", "target_modules",
               "dtype", "packing", "add_eos", "seed")

PAPER = (
    "Symbol tuning (Wei et al., 2023, \"Symbol tuning improves in-context learning in language models\") "
    "fine-tunes a language model on in-context classification prompts whose natural-language labels "
    "(e.g. positive/negative) are replaced by arbitrary symbols (e.g. foo/bar), with no instruction "
    "that explains the task. The model can only succeed by working out the input-label mapping from the "
    "exemplars, so tuning strengthens in-context learning and the use of exemplars over prior knowledge. "
    "The paper evaluates on held-out tasks with relevant labels, symbols, and flipped labels, with and "
    "without instructions, and on algorithmic reasoning tasks."
)


def base_model_id(model: str, model_path: str | None = None) -> tuple[str | None, str]:
    """(Hub id or None, licence identifier) for a TrainConfig.model value."""
    if model in HUB_BASE:
        return HUB_BASE[model]
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if Path(model).exists():
        return None, "other"  # a local folder: its Hub origin is unknown
    try:
        validate_repo_id(model)
    except HFValidationError:
        return None, "other"
    return model, "other"


def _load_results(results) -> dict | None:
    if results is None or isinstance(results, dict):
        return results
    p = Path(results)
    if p.is_dir():
        p = p / "results.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SymtuneError(f"model card: cannot read evaluation results {p} ({e.__class__.__name__}); "
                           "pass an evaluation folder holding results.json") from None


def eval_results(doc: dict) -> list:
    """One model-index entry per summary setting of an evaluation's results.json."""
    from huggingface_hub import EvalResult

    summary = doc.get("summary") or {}
    metric = summary.get("metric", "acc")
    suite = (doc.get("config") or {}).get("suite", "symtune")
    split = (doc.get("seeds") or {}).get("split") or (doc.get("config") or {}).get("split")
    out = []
    for setting, value in summary.items():
        if setting in ("chance", "metric") or not isinstance(value, (int, float)):
            continue
        out.append(EvalResult(task_type="text-classification", task_name="In-context learning",
                              dataset_type=f"symtune-{suite}", dataset_name=f"symtune {suite} suite: {setting}",
                              dataset_config=setting, dataset_split=split, metric_type="accuracy",
                              metric_name=f"{metric} ({setting})", metric_value=round(float(value), 4)))
    return out


def _recipe(meta: dict) -> str:
    cfg = meta.get("config") or {}
    rows = [f"| {k} | `{cfg[k]}` |" for k in RECIPE_KEYS if k in cfg]
    if cfg.get("method") == "full":
        rows = [r for r in rows if not r.startswith("| lora_") and not r.startswith("| target_modules")]
    data = meta.get("data") or {}
    extra = []
    if data.get("sha256"):
        extra.append(f"- training rows: {data.get('kept', '?')} (sha256 `{data['sha256'][:16]}`)")
    if meta.get("steps_done") is not None:
        extra.append(f"- optimizer steps done: {meta['steps_done']}")
    if meta.get("final_loss_mean10") is not None:
        extra.append(f"- final training loss (mean of last 10 logged): {meta['final_loss_mean10']}")
    versions = (meta.get("provenance") or {}).get("versions") or {}
    if versions:
        extra.append("- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    return "| setting | value |\n|---|---|\n" + "\n".join(rows) + ("\n\n" + "\n".join(extra) if extra else "")


def _results_table(doc: dict) -> str:
    summary = doc.get("summary") or {}
    chance = summary.get("chance") or {}
    rows = [f"| {k} | {v:.3f} | {chance[k]:.3f} |" if k in chance else f"| {k} | {v:.3f} | |"
            for k, v in summary.items() if k not in ("chance", "metric") and isinstance(v, (int, float))]
    return (f"Metric: {summary.get('metric', 'acc')}, mean over the suite's tasks.\n\n"
            "| setting | score | chance |\n|---|---|---|\n" + "\n".join(rows))


def build_card(folder: str | Path, results=None):
    """The ModelCard for a training output folder (symtune_train.json required)."""
    from huggingface_hub import ModelCard, ModelCardData

    folder = Path(folder)
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise SymtuneError(f"model card: {folder} has no readable {META}; pass a `symtune train` output folder") from None
    cfg = meta.get("config") or {}
    model = str(cfg.get("model", ""))
    base, licence = base_model_id(model)
    full = cfg.get("method") == "full"
    doc = _load_results(results)
    evals = eval_results(doc) if doc else []
    name = folder.resolve().name if folder.resolve().name not in ("train", "") else folder.resolve().parent.name
    data = ModelCardData(base_model=base, library_name="transformers" if full else "peft",
                         tags=["symbol-tuning"] + ([] if full else ["lora"]), license=licence,
                         model_name=name if evals else None, eval_results=evals or None)
    kind = "fully fine-tuned model" if full else "LoRA adapter"
    load = (f"AutoModelForCausalLM.from_pretrained(\"{name}\")" if full else
            f"AutoPeftModelForCausalLM.from_pretrained(\"{name}\")  # from peft")
    body = [
        "---", data.to_yaml(), "---", "",
        f"# {name}", "",
        f"A symbol-tuned {kind} of `{base or model}`, trained with symtune.", "",
        "## Paper setting", "", PAPER, "",
        "## Tuning recipe", "", _recipe(meta), "",
    ]
    if doc:
        body += ["## Evaluation", "", _results_table(doc), ""]
    body += ["## Use", "", "```python", load, "```", ""]
    if licence == "other":
        body += ["Licence: the base model's licence applies.", ""]
    return ModelCard("\n".join(body))


def write_model_card(folder: str | Path, results=None) -> Path:
    """Write (or refresh) FOLDER/README.md; `results` is a results.json path, its folder, or its contents."""
    from symtune.provenance import write_text_atomic

    card = build_card(folder, results)
    path = Path(folder) / CARD
    write_text_atomic(path, str(card))
    return path


__all__ = ["write_model_card", "build_card", "eval_results", "base_model_id", "CARD"]
