"""symtune export lm-eval: the evaluation prompts as lm-evaluation-harness tasks."""

from symtune.eval.config import EvalConfig

HELP = "Export the evaluation prompts as lm-evaluation-harness tasks (JSONL docs + YAML configs)."
DESCRIPTION = """Write the exact prompts and options `symtune eval` scores as lm-evaluation-harness
tasks, so results can be cross-checked with `lm_eval --include_path DIR`.

  symtune export lm-eval --suite icl --out lm_eval_tasks
  lm_eval --model hf --model_args pretrained=<model folder> --include_path lm_eval_tasks --tasks symtune_icl
"""

FORMATS = ("lm-eval",)


def add_arguments(p):
    from symtune.commands.flags import add_dataclass_args

    p.add_argument("format", choices=FORMATS, help="export format (lm-eval)")
    p.add_argument("--out", required=True, help="output folder for <task>.jsonl + <task>.yaml")
    p.add_argument("--config", help="YAML file with EvalConfig keys (command-line options override it)")
    add_dataclass_args(p, EvalConfig, exclude=("allow_tuning_overlap", "adapter", "dtype", "batch_size", "threads", "chunk_size",
                                               "force", "progress", "scoring"))


def run(args) -> int:
    from symtune.commands.flags import overrides_from_args
    from symtune.config import resolve_config
    from symtune.eval.export import export_lm_eval

    cfg = resolve_config(EvalConfig, args.config, overrides_from_args(args, EvalConfig))
    res = export_lm_eval(cfg, args.out)
    print(f"wrote {len(res['tasks'])} lm-eval tasks ({sum(res['tasks'].values())} docs) to {args.out}; "
          f"run them with --include_path {args.out} --tasks {','.join(res['tags'])}")
    return 0
