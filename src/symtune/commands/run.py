"""symtune run: the whole study on one command (what `make demo` runs)."""

from symtune.run_config import RunConfig

HELP = "Run the whole study: build data, evaluate the base model, symbol-tune, evaluate again, report."
DESCRIPTION = """Run the whole study, each stage in its own folder under --out; stages whose output
exists for the same settings are skipped, so a killed run continues where it stopped.

  symtune run --preset quick --out runs/demo          # what `make demo` runs (<= 30 min on 2 CPU cores)
  symtune run --preset default --out runs/default     # the recommended CPU study
  symtune run --preset quick --control natural-labels --out runs/demo-control
  symtune report runs/demo runs/demo-control          # side by side
"""


def add_arguments(p):
    from symtune.config import add_dataclass_args

    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--config", help="YAML file with RunConfig keys (overrides the preset; options override it)")
    p.add_argument("--force", action="store_true",
                   help="accept a run folder holding a different config (reruns the stages that changed)")
    p.add_argument("--stop-after", choices=["data", "eval_base", "train", "eval_tuned", "report"],
                   help="stop after this stage")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and stage hashes, run nothing")
    add_dataclass_args(p, RunConfig)


def run(args) -> int:
    import json

    from symtune.config import load_yaml, overrides_from_args, resolve_config
    from symtune.pipeline import run_pipeline, stage_hashes
    from symtune.run_config import preset_values

    overrides = overrides_from_args(args, RunConfig)
    preset = overrides.get("preset") or (load_yaml(args.config).get("preset") if args.config else None) or "quick"
    cfg = resolve_config(RunConfig, args.config, overrides, base=preset_values(preset))
    if args.dry_run:
        from dataclasses import asdict

        print(json.dumps({"config": asdict(cfg), "stage_hashes": stage_hashes(cfg)}, indent=2))
        return 0
    state = run_pipeline(cfg, args.out, force=args.force, stop_after=args.stop_after)
    total = sum(v or 0 for v in state["timings"].values())
    print(f"run {state['status']}: {args.out} (stage time {total:.0f} s; report: {args.out}/report/report.md)")
    return 0
