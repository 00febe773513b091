"""DataConfig: every knob of the tuning-data builder (paper §3.1 defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from symtune.config import opt
from symtune.data.formats import FORMATS
from symtune.models import DEFAULT_MODEL
from symtune.tasks import columns
from symtune.prompting.symbols import FAMILIES


@dataclass
class DataConfig:
    tasks: list[str] = opt([], "Tuning tasks by name (`symtune tasks --role tune`); empty = the bundled default "
                           "tuning mixture. `sources`: label = which bundled tuning dataset a text comes from, a random "
                           "2-5 of 16 per prompt (their tuning data only); `multiemo_lang_sub`: 2-5 of 7 languages "
                           "per prompt.")
    task_config: str | None = opt(None, "Task config to take tasks from: 'paper' (Hub datasets, online) or a YAML file; default = bundled tasks.")
    n_prompts: int | None = opt(1000, "Number of prompts (rows) to build. `auto` (null) in `symtune run`: "
                                "train.batch_size x grad_accum x steps (+ held-out eval_rows), so training "
                                "never repeats a prompt (per process; training takes the rows at data.max_length).")
    seed: int = opt(0, "Seed; row i uses its own RNG derived from (seed, i), so output is identical for any worker count.")
    model: str = opt(DEFAULT_MODEL, "Model whose tokenizer drives the length and prefix checks (preset, folder or Hub id).")
    min_exemplars: int = opt(2, "Minimum in-context exemplars per class (paper: 2).")
    max_exemplars: int = opt(10, "Maximum in-context exemplars per class (paper: 10); drawn uniformly per class.")
    max_length: int = opt(1024, "Maximum tokens of prompt + completion; longer prompts drop exemplars (keeping one per class).")
    task_cap: int = opt(25000, "Examples-proportional mixing cap: a task weighs min(#train examples, cap) (paper: 25k).")
    symbol_fraction: float = opt(1.0, "Share of symbol prompts; the rest (the natural share, meta.natural_share) are "
                                 "natural-label prompts with instructions, trained per train.natural_loss.")
    label_mode: str = opt("symbols", "symbols: arbitrary symbols; natural: the tasks' own labels with instructions; random: symbols with exemplar labels inconsistent with the inputs (null control).",
                          choices=("symbols", "natural", "random"))
    symbol_families: list[str] = opt(list(FAMILIES), "Symbol families to draw from (int, letters, word).", choices=FAMILIES)
    symbol_pool_size: int | None = opt(None, "Symbols per family in the pool (paper ablation: 10/100/1000/10000); default all 10,000.")
    max_symbol_tokens: int | None = opt(None, "Cap on a symbol's token count for the tokenizer (off by default, as in the paper).")
    templates: list[int] = opt([], "Template ids to draw from (0-9); empty = all ten.")
    max_tasks: int | None = opt(None, "Use only the first N tasks of the mixture (ablation over the number of tasks).")
    workers: int = opt(1, "Worker processes for building (output does not depend on it).", runtime=True)
    task_files: list[str] = opt([], "User data files (CSV/JSONL/Parquet) to tune on, with --text-col/--label-col.")
    text_col: str = columns.text_col()
    text_pair_col: str | None = columns.text_pair_col()
    label_col: str = columns.label_col()
    force: bool = opt(False, "Overwrite an existing --out file (and its .stats.json); an input file is never overwritten.",
                      runtime=True)
    class_subsets: bool = opt(False, "Each symbol prompt of a task with n > 2 classes uses a random subset of 2..n "
                              "of its classes (renumbered 0..k-1; meta.classes holds the original ids); "
                              "natural-label prompts keep every class.")
    chat_template: bool = opt(False, "Render each prompt through the tokenizer's chat template as one user turn "
                              "(the label is the assistant's answer); set it the same for "
                              "evaluation (`symtune run --chat-template` does both). symtune/chat.py.")
    format: str = opt("prompt-completion", "Output format: prompt-completion (JSONL, TRL SFTTrainer), messages (chat JSONL, "
                      "TRL/Axolotl), parquet, or hf-dataset (a datasets save_to_disk folder); `symtune train` reads all.",
                      FORMATS)
