"""symtune data: build symbol-tuning rows (JSONL: prompt, completion, meta)."""

from symtune.data.config import DataConfig

HELP = "Build symbol-tuning data from classification tasks (JSONL rows: prompt, completion, meta)."
DESCRIPTION = """Build symbol-tuning data (paper §3.1): few-shot prompts whose labels are remapped to
arbitrary symbols, with no instruction. Examples:

  symtune data --out runs/data.jsonl --n-prompts 1000 --seed 0
  symtune data --preview 3                    # print 3 rendered prompts, write nothing
  symtune data --out d.jsonl --task-files my.csv --text-col sentence --label-col label
  symtune data --out runs/data.jsonl --force   # replace an existing file (never an input file)
  symtune data --out runs/data.parquet --format parquet   # also: messages, hf-dataset
"""


def add_arguments(p):
    from symtune.commands.flags import add_dataclass_args

    p.add_argument("--out", help="output file, or folder for --format hf-dataset (a <stem>.stats.json is written beside it)")
    p.add_argument("--config", help="YAML file with DataConfig keys (command-line options override it)")
    p.add_argument("--preview", type=int, default=0, metavar="K", help="print K rendered prompts (completion in ‹›)")
    add_dataclass_args(p, DataConfig)


def run(args) -> int:
    from symtune.commands.flags import overrides_from_args
    from symtune.config import resolve_config
    from symtune.data.run import build_dataset, check_output_path, format_row, make_builder
    from symtune.errors import SymtuneError

    cfg = resolve_config(DataConfig, args.config, overrides_from_args(args, DataConfig))
    if args.preview < 0:
        raise SymtuneError(f"--preview must be 0 or more prompts, got {args.preview}")
    if not args.out and not args.preview:
        raise SymtuneError("pass --out FILE to build data, or --preview K to print prompts")
    if args.out:
        check_output_path(cfg, args.out, config_file=args.config)  # before any work or preview
    if args.preview:
        builder = make_builder(cfg)
        for i in range(min(args.preview, cfg.n_prompts)):
            print(format_row(builder.row(i)))
            print()
    if args.out:
        stats = build_dataset(cfg, args.out, config_file=args.config)
        print(f"wrote {stats['n_prompts']} prompts to {args.out} in {stats['seconds']} s "
              f"({stats['shortened_prompts']} shortened to fit {cfg.max_length} tokens; "
              f"mean {stats['tokens_mean']} tokens, max {stats['tokens_max']})")
    return 0
