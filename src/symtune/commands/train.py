"""symtune train --model M --data FILE.jsonl --out DIR [--method lora|full] [--steps N] ...

Options come from TrainConfig (src/symtune/train/config.py); --config YAML sets any of them, and
command-line flags override the YAML. See docs/TRAINING.md.
"""

HELP = "Symbol-tune a model (LoRA or full) on rows from `symtune data`."

DESCRIPTION = """Symbol-tune a causal LM on prompt/completion rows with Hugging Face Trainer.

examples:
  symtune train --data rows.jsonl --out runs/lora --steps 50
  symtune train --data rows.jsonl --out runs/lora --steps 100               # again: continues a killed run
  symtune train --data rows.jsonl --out runs/ddp --accelerate-config cpu-ddp

outputs in --out: adapter_model.safetensors + adapter_config.json (lora) or model.safetensors (full),
tokenizer files, symtune_train.json, log.jsonl, loss.png, checkpoints/.
"""


def add_arguments(p):
    from symtune.commands.flags import add_dataclass_args
    from symtune.train.config import TrainConfig

    p.add_argument("--config", dest="config_file", metavar="YAML", default=None,
                   help="YAML file with TrainConfig keys (command-line flags override it)")
    add_dataclass_args(p, TrainConfig)


def resolve(args):
    from symtune.commands.flags import overrides_from_args
    from symtune.config import resolve_config
    from symtune.train.config import TrainConfig

    return resolve_config(TrainConfig, yaml_path=args.config_file, overrides=overrides_from_args(args, TrainConfig))


def run(args) -> int:
    from symtune import runtime
    from symtune.paths import check_output
    from symtune.train import train

    cfg = resolve(args)
    if cfg.out:
        check_output(cfg.out, kind="folder", option="--out")  # before ~20 s of setup
    meta = train(cfg)
    if meta.get("status") == "complete" and not runtime.in_child():
        t = meta.get("timings", {})
        print(f"{cfg.out}: {meta.get('steps_done')} steps, loss {meta.get('first_loss')} -> {meta.get('final_loss')}"
              f" ({t.get('s_per_step')} s/step, peak RSS {meta.get('peak_rss_mb')} MB)")
    return 0
