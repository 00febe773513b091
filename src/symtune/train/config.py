"""TrainConfig: every option of `symtune train`, with help text (YAML keys = field names)."""

from __future__ import annotations

from dataclasses import dataclass

from symtune.config import opt, runtime_fields
from symtune.hardware import DEVICES, DTYPES
from symtune.models import DEFAULT_MODEL

METHODS = ("lora", "full")
LOSSES = ("label", "dense")
NATURAL_LOSSES = ("ce", "kl")
SCHEDULES = ("constant", "cosine", "linear")
OVERLONG = ("drop", "error")

# Defaults per method when `lr` is left unset.
DEFAULT_LR = {"lora": 2e-4, "full": 1e-5}



@dataclass
class TrainConfig:
    model: str = opt(DEFAULT_MODEL, "Base model: bundled preset name, local folder or Hub id.")
    data: str = opt("", "Training rows (JSONL with prompt, completion, meta), as written by `symtune data`.")
    out: str = opt("", "Output folder (adapter or model, tokenizer, log.jsonl, loss.png, checkpoints/).", runtime=True)
    method: str = opt("lora", "lora: train a LoRA adapter; full: train all weights.", METHODS)
    steps: int = opt(100, "Optimizer steps (the data is cycled if it runs out).")
    lr: float | None = opt(None, "Peak learning rate (default: 2e-4 for lora, 1e-5 for full).")
    batch_size: int = opt(4, "Rows per micro-batch per process.")
    grad_accum: int = opt(1, "Micro-batches accumulated per optimizer step.")
    max_length: int = opt(1024, "Longest prompt+completion in tokens; see `overlong` for longer rows.")
    overlong: str = opt("drop", "Rows longer than max_length: drop (counted in symtune_train.json) or error.",
                        OVERLONG)
    loss: str = opt("label", "label: supervise the completion only; dense: also every exemplar label whose "
                    "class already appeared earlier in the prompt.", LOSSES)
    dense_min_seen: int | None = opt(None, "loss dense: which exemplar labels. Unset: every one whose class appeared "
                                     "earlier (every row). 1 or 2: only where the answer is determined: every class "
                                     "of the prompt shown before it and its own class at least this many times; "
                                     "symbol rows only (natural-label rows keep the query alone).",
                                     unhashed_if_none=True)
    dense_weight: float | None = opt(None, "loss dense: unset = every supervised token weighs 1 (mean over tokens); "
                                     "w in (0, 1) = per row, its exemplar labels share weight w and the query keeps "
                                     "1 - w (a row without any keeps its query whole), so each row weighs what it "
                                     "does under loss label (Chan et al. 2022's interim weight).",
                                     unhashed_if_none=True)
    add_eos: bool = opt(False, "Append the tokenizer's EOS token to every completion (it is then supervised).")
    schedule: str = opt("constant", "Learning-rate schedule after warmup.", SCHEDULES)
    warmup_steps: int = opt(10, "Linear warmup steps.")
    weight_decay: float = opt(0.0, "AdamW weight decay.")
    max_grad_norm: float = opt(1.0, "Gradient clipping norm (0 = off).")
    eval_every: int = opt(0, "Evaluate the loss every N steps (0 = never) on eval_data or held-out rows.")
    eval_data: str | None = opt(None, "Evaluation rows (JSONL); default: hold out eval_rows training rows.")
    eval_rows: int = opt(16, "Rows held out of the training file for evaluation when eval_data is unset.")
    seed: int = opt(0, "Seed for the data order, LoRA initialisation and dropout.")
    dtype: str = opt("auto", "Weights dtype (LoRA weights stay float32). auto: bfloat16 where the device computes "
                     "it natively (CUDA GPU with bf16; CPU with AVX512-BF16 or AMX), else float32 "
                     "(symtune/hardware.py). float16 is refused (it needs loss scaling).", DTYPES)
    device: str = opt("auto", "Device to train on: auto (cuda, then mps, then cpu) or one of them; under an "
                      "accelerate config each process takes its own GPU.", DEVICES)
    lora_r: int = opt(16, "LoRA rank.")
    lora_alpha: int = opt(32, "LoRA alpha (scale = alpha / r).")
    lora_dropout: float = opt(0.05, "Dropout on the LoRA input.")
    target_modules: list[str] = opt(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                                    "Module names LoRA is applied to.")
    gradient_checkpointing: bool | None = opt(None, "Recompute activations in backward (less memory, ~30% slower "
                                              "per step). Default (unset): on only when the estimated "
                                              "activation memory of a micro-batch would not fit in half of the "
                                              "memory available (train/memory.py).", runtime=True)
    low_memory: bool = opt(False, "Return freed CPU memory to the OS at once (glibc mmap threshold 1 MiB): "
                           "~1/3 less peak RSS, but ~1.6x slower steps here (page faults); pair with "
                           "--gradient-checkpointing for the smallest footprint.", runtime=True)
    packing: bool = opt(False, "Concatenate the rows of a micro-batch into one sequence without padding; "
                        "document-level position ids keep rows from attending to each other.")
    save_every: int = opt(50, "Write a resumable checkpoint every N steps (0 = only the final model).", runtime=True)
    save_total_limit: int = opt(2, "Checkpoints kept in out/checkpoints (older ones are deleted).", runtime=True)
    resume: bool = opt(False, "Continue from the last complete checkpoint in out/ (same config required). Optional: "
                       "the same command resumes an interrupted run anyway.", runtime=True)
    accelerate_config: str | None = opt(
        None, "Relaunch under `accelerate launch` with this config: a shipped name (cpu-ddp, multi-gpu, fsdp, "
        "deepspeed-zero2) or a YAML path.", runtime=True)
    threads: int = opt(0, "torch CPU threads (0 = torch's default).", runtime=True)
    natural_loss: str = opt("ce", "Loss on natural-label rows (meta.label_mode natural, from data.symbol_fraction "
                            "< 1): ce = cross-entropy on their labels like symbol rows; kl = KL(base || tuned) at "
                            "their supervised positions, the base distribution from the same model with the "
                            "LoRA adapter disabled (anchors behaviour instead of teaching the tasks; LoRA only, "
                            "one extra no-grad forward of those rows).", NATURAL_LOSSES)
    probe_every: int = opt(0, "Probe ICL every N optimizer steps and at step 0 (0 = off): symbol accuracy on held-out "
                           "tuning prompts with eval-pool symbols and natural-label accuracy on a canary task, "
                           "into log.jsonl and loss.png (train/probe.py).", runtime=True)
    probe_rows: int = opt(32, "Probe: held-out tuning prompts (split evenly over the tuning tasks in the rows).",
                          runtime=True)
    probe_data: str | None = opt(None, "Probe: score these rows (JSONL in the training format) instead of building "
                                 "prompts from the tuning tasks.", runtime=True)
    probe_canary: str | None = opt("snips_7way", "Probe: natural-label canary task (its dev split; null = none).",
                                   runtime=True)
    probe_canary_queries: int = opt(40, "Probe: canary queries.", runtime=True)
    report_to: str = opt("none", "Experiment trackers the Trainer logs loss, learning rate and held-out loss to: "
                         "none, or a comma-separated list of transformers' integrations (tensorboard, wandb, "
                         "mlflow, trackio, ...).", runtime=True)

    @property
    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]


# Fields that cannot change what is trained (runtime=True above): ignored when a resumed run is compared
# with the run already in the output folder, and left out of `symtune run`'s stage hashes.
NON_SEMANTIC = runtime_fields(TrainConfig)
