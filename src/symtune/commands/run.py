"""symtune run: the whole study on one command (what `make demo` runs)."""

HELP = "Run the whole study: build data, evaluate the base model, symbol-tune, evaluate again, report."
DESCRIPTION = """Run the whole study, each stage in its own folder under --out; stages whose output
exists for the same settings are skipped, so a killed run continues where it stopped. The base
model's evaluation is cached and reused by later runs with the same evaluation settings.

Settings come from a preset, then --config YAML (nested: data:, train:, eval:), then the command
line, where every stage field has a dotted name (--train.lr, --eval.limit, --data.symbol_fraction).

  symtune run --preset quick --out runs/demo          # what `make demo` runs with native bf16 (<= 30 min, 2 cores)
  symtune run --preset quick-fp32 --out runs/demo     # what it runs on an AVX2-only CPU (symtune hardware)
  symtune run --preset default --out runs/default     # the recommended CPU study
  symtune run --preset quick --train.lr 1e-4 --eval.limit 50 --data.symbol_fraction 0.75 --out runs/x
  symtune run --preset quick --control natural-labels --out runs/demo-control
  symtune run --config experiments/arm.yaml --out runs/arm --dry-run   # print the resolved config
  symtune report runs/demo runs/demo-control          # side by side
"""


def add_arguments(p):
    from symtune.commands.flags import add_dataclass_args
    from symtune.run_config import WIRED, RunConfig

    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--config", help="YAML file with RunConfig keys, nested (overrides the preset; options override it)")
    p.add_argument("--force", action="store_true",
                   help="accept a run folder holding a different config (reruns the stages that changed)")
    p.add_argument("--stop-after", choices=["data", "eval_base", "train", "eval_tuned", "report"],
                   help="stop after this stage")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved nested config and stage hashes, run nothing")
    p.add_argument("--no-cache", dest="cache", action="store_false", default=None,
                   help="do not reuse or store a cached base evaluation")
    add_dataclass_args(p, RunConfig, exclude=("data", "train", "eval", "cache"))
    from symtune.data.config import DataConfig
    from symtune.eval.config import EvalConfig
    from symtune.train.config import TrainConfig

    for name, cls in (("data", DataConfig), ("train", TrainConfig), ("eval", EvalConfig)):
        group = p.add_argument_group(f"{name} stage (--{name}.FIELD; also settable under '{name}:' in --config)")
        add_dataclass_args(group, cls, exclude=tuple(WIRED[name]), prefix=name + ".")


def resolve(args):
    from symtune.commands.flags import overrides_from_args
    from symtune.config import unflatten
    from symtune.data.config import DataConfig
    from symtune.eval.config import EvalConfig
    from symtune.run_config import RunConfig, resolve_run
    from symtune.train.config import TrainConfig

    overrides = overrides_from_args(args, RunConfig)
    for name, cls in (("data", DataConfig), ("train", TrainConfig), ("eval", EvalConfig)):
        section = overrides_from_args(args, cls, prefix=name + ".")
        if section:
            overrides[name] = unflatten(section)
    return resolve_run(args.config, overrides)


def run(args) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from symtune.paths import check_output
    from symtune.pipeline import run_pipeline, stage_hashes

    check_output(args.out, kind="folder", option="--out")
    cfg = resolve(args)
    if args.dry_run:
        from symtune.pipeline import resolved_stages, validate_stages

        validate_stages(cfg, Path(args.out))  # what the run would refuse, a dry run refuses too
        hardware = {k: v.as_dict() for k, v in resolved_stages(cfg, Path(args.out))[1].items()}
        print(json.dumps({"config": dataclasses.asdict(cfg), "hardware": hardware,
                          "stage_hashes": stage_hashes(cfg, Path(args.out))}, indent=2))
        return 0
    state = run_pipeline(cfg, args.out, force=args.force, stop_after=args.stop_after)
    total = sum(v or 0 for v in state["timings"].values())
    print(f"run {state['status']}: {args.out} (stage time {total:.0f} s; report: {args.out}/report/report.md)")
    return 0
