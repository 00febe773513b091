"""EvalConfig: every option of `symtune eval` / `symtune export lm-eval` (typed, with help)."""

from __future__ import annotations

from dataclasses import dataclass

from symtune.config import opt, runtime_fields
from symtune.hardware import DEVICES, DTYPES
from symtune.models import DEFAULT_MODEL
from symtune.tasks import columns

SUITES = ("icl", "flipped", "algorithmic", "all", "flip_curve", "k_curve")
EXTRA_SUITES = ("flip_curve", "k_curve")  # opt-in suites (cost extra prompts); never part of "all"
SPLITS = ("test", "dev")
ICL_SETTINGS = ("instr+labels", "labels", "instr+symbols", "symbols")
SCORINGS = ("rank", "generate")



@dataclass
class EvalConfig:
    model: str = opt(DEFAULT_MODEL, "Model: bundled preset name, local folder or Hub id.")
    adapter: str | None = opt(None, "LoRA adapter folder (from `symtune train`), merged into the model for eval.")
    suite: str = opt("icl", "Which suite: icl (4 settings), flipped (binary tasks, flipped labels), "
                     "algorithmic (List Functions + Simple Turing Concepts), all (those three), or one opt-in curve "
                     "alone: flip_curve or k_curve (see --extra-suites).", choices=SUITES)
    tasks: list[str] = opt([], "Held-out tasks by name (or default-eval / all-eval); empty = the default eval tasks.")
    task_file: str | None = opt(None, "Evaluate a user data file (CSV/JSONL/Parquet) instead of named tasks.")
    task_config: str | None = opt(None, "Take eval tasks from a task config: 'paper' (the paper's 11 Hub datasets, "
                                  "online) or a YAML file; --tasks then picks among them.")
    text_col: str = columns.text_col()
    text_pair_col: str | None = columns.text_pair_col()
    label_col: str = columns.label_col()
    split_col: str | None = opt(None, "Optional split column of --task-file (train = exemplars, validation = queries); "
                                "default: a seeded stratified 80/20 split.")
    task_instruction: str | None = opt(None, "Instruction for --task-file in the instr+ settings "
                                       "(default: 'Classify the input as one of: ...').")
    settings: list[str] = opt(list(ICL_SETTINGS), "ICL settings to run.", choices=ICL_SETTINGS)
    k: int = opt(4, "In-context exemplars per class (paper: 4).")
    limit: int = opt(100, "At most this many queries per task (class-balanced sample; paper: 100).")
    seed: int = opt(0, "Seed for query sampling, exemplars, templates and symbols (same seed -> same prompts).")
    templates: list[int] = opt([], "Template ids (0-9) to draw from; empty = all ten.")
    scoring: str = opt("rank", "rank: argmax of the options' summed log-probs (acc) and per-token mean (acc_norm); "
                       "generate: greedy decoding + exact match (acc_gen, the primary metric), rank also reported.",
                       choices=SCORINGS)
    max_length: int | None = opt(None, "Token limit for prompt + answer (default: the model's context). Longer "
                                 "prompts drop exemplars, keeping one per class.")
    max_new_tokens: int = opt(48, "Greedy generation budget for open-ended answers (classification uses the "
                              "longest option + 2).")
    flip_proportion: float | None = opt(None, "Flipped suite: flip this proportion of exemplar labels only, gold "
                                        "unchanged (Wei et al. 2023a protocol). Default: paper protocol, all "
                                        "exemplar labels and the query's gold flipped.")
    flip_instruction: bool = opt(False, "Flipped suite: include the task instruction (paper: not stated; default off).")
    lf_subtasks: list[str] = opt([], "List Functions subtasks (c001-c250); empty = the 20 built-in picks (4 per "
                                 "category; not the paper's unpublished selection).")
    algorithmic_instruction: bool = opt(False, "Prepend BIG-bench's List Functions task prefix to its prompts.")
    dtype: str = opt("auto", "Model dtype. auto: bfloat16 where the device computes it natively (CUDA GPU with "
                     "bf16; CPU with AVX512-BF16 or AMX), float16 on a CUDA GPU without bf16, else float32 "
                     "(symtune/hardware.py). The resolved dtype is what is hashed, cached and recorded.",
                     choices=DTYPES)
    device: str = opt("auto", "Device the model and its batches run on: auto (cuda, then mps, then cpu) or one "
                      "of them. With --processes N on a machine with N GPUs, one process per GPU.",
                      choices=DEVICES)
    batch_size: int = opt(8, "Prompts per forward pass (results do not depend on it beyond float rounding).", runtime=True)
    threads: int | None = opt(None, "Torch CPU threads per process (default: available cores / processes; CPU "
                              "only).", runtime=True)
    processes: int | None = opt(None, "Data-parallel processes on this machine (relaunches under `accelerate "
                                "launch`). Default: one per GPU on CUDA; on a CPU the layout measured fastest for "
                                "the resolved dtype (symtune/hardware.py, docs/EVALUATION.md), each process "
                                "getting cores/N threads. Results do not depend on it.", runtime=True)
    chunk_size: int = opt(256, "Prompts per process per resume checkpoint (samples are appended after each "
                          "chunk). Larger chunks batch similar lengths together (less padding).", runtime=True)
    force: bool = opt(False, "Overwrite samples in --out that were written with a different configuration.", runtime=True)
    progress: bool = opt(True, "Show a progress bar (rate and ETA).", runtime=True)
    split: str = opt("test", "Which evaluation: test = the paper-sized evaluation (queries from the tasks' query "
                     "split), run once per finalist recipe; dev = the smaller recipe-search evaluation: queries from "
                     "the exemplar split (never a test query, never among their own exemplars), --dev-limit per task, "
                     "the --dev-settings ICL settings, flipped labels on the binary tasks with --suite flipped/all "
                     "(algorithmic suite: test only).", choices=SPLITS)
    dev_limit: int = opt(40, "Dev split: at most this many queries per task (replaces --limit).")
    dev_settings: list[str] = opt(["labels", "symbols"], "Dev split: the ICL settings scored (replaces --settings).",
                                  choices=ICL_SETTINGS)
    chat_template: bool = opt(False, "Render every prompt through the tokenizer's chat template as one user turn; "
                              "options keep their leading space, as lm-eval's --apply_chat_template scores them. "
                              "symtune/chat.py.")
    permutation_control: bool = opt(False, "Also score every symbol-setting query with the class->symbol "
                                    "assignment permuted (binary: swapped; else shifted by one class): suite "
                                    "perm_control. Separates the symbols' own meaning from the learned mapping. "
                                    "Costs one extra prompt per symbol-setting query.")
    extra_suites: list[str] = opt([], "Opt-in suites run besides --suite: flip_curve (binary tasks, accuracy at each "
                                  "--flip-curve-proportions, gold unchanged; one prompt per proportion and query) "
                                  "and k_curve (labels and symbols at each --k-curve exemplars per class).",
                                  choices=EXTRA_SUITES)
    flip_curve_proportions: list[float] = opt([0.0, 0.25, 0.5, 0.75, 1.0], "flip_curve suite: proportions of "
                                              "exemplar labels flipped (nested: each query flips the same first "
                                              "exemplars, more of them as the proportion grows).")
    k_curve: list[int] = opt([1, 2, 4, 8], "k_curve suite: exemplars per class (nested draws per query).")

    adapter_scale: float = opt(1.0, "Scale of the LoRA adapter's update before merging: W + scale * (B A) "
                               "(0 = the base model, 1 = the adapter as trained, 0.5 halfway; weight "
                               "interpolation toward the base model). Needs --adapter.")

    allow_tuning_overlap: bool = opt(False, "symtune run: evaluate on a task the run also tunes on (the same task "
                                     "by name or by its texts, or queries among the tuning rows of a file), which "
                                     "is refused otherwise; the report then flags those tasks.", runtime=True)


# Fields that cannot change results (runtime=True above): left out of every config hash.
RUNTIME_FIELDS = runtime_fields(EvalConfig)
