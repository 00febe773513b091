"""symtune eval: paper-style ICL evaluation (4 settings, flipped labels, algorithmic tasks)."""

from symtune.eval.config import EvalConfig

HELP = "Evaluate a model (and adapter) on held-out tasks: ICL settings, flipped labels, algorithmic."
DESCRIPTION = """Evaluate in-context learning the paper's way (Wei et al. 2023, §3.2, §5, §6).

Suites: icl (instr+labels, labels, instr+symbols, symbols), flipped (binary tasks), algorithmic
(List Functions, Simple Turing Concepts), all. Writes DIR/results.json and
DIR/samples_<suite>_<task>.jsonl; rerun the same command to resume an interrupted run.

  symtune eval --model smollm2-135m --suite icl --out runs/eval_base
  symtune eval --model smollm2-135m --adapter runs/train --suite all --out runs/eval_tuned
  symtune eval --suite icl --task-file my.csv --text-col text --label-col label --out runs/eval_mine
  symtune eval --suite flipped --flip-proportion 0.5 --out runs/flip50
  symtune eval --suite icl --processes 2 --out runs/eval_ddp
  (= accelerate launch --multi_gpu --num_processes 2 -m symtune.cli eval ...; on a CPU-only machine
  the processes talk over gloo; only rank 0 writes files)
"""


def add_arguments(p):
    from symtune.commands.flags import add_dataclass_args

    p.add_argument("--out", required=True, help="output folder (results.json, samples_*.jsonl)")
    p.add_argument("--config", help="YAML file with EvalConfig keys (command-line options override it)")
    add_dataclass_args(p, EvalConfig, exclude=("allow_tuning_overlap",))  # a run's option


def run(args) -> int:
    from pathlib import Path

    from symtune import runtime
    from symtune.commands.flags import overrides_from_args
    from symtune.config import resolve_config
    from symtune.eval import evaluate
    from symtune.eval.runner import format_summary
    from symtune.paths import check_not_input, check_output

    cfg = resolve_config(EvalConfig, args.config, overrides_from_args(args, EvalConfig))
    check_output(args.out, kind="folder", option="--out")  # before any model is loaded
    check_not_input(args.out, [cfg.adapter, cfg.model if Path(cfg.model).is_dir() else None])
    doc = evaluate(cfg, args.out)
    if doc is not None and not runtime.in_child():
        print(format_summary(doc))
        print(f"wrote {args.out}/results.json ({doc['n_prompts']} prompts, {doc['seconds']['total']} s)")
    return 0
