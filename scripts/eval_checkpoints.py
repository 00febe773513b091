"""Evaluate a run's kept training checkpoints with the run's own tuned evaluation (issue 21 item 2).

    symtune run --config experiments/i21/long_720.yaml --out runs/i21_long_720   # train.save_every: 120 keeps them
    python scripts/eval_checkpoints.py runs/i21_long_720                      # RUN/ckpt/step-N/ per checkpoint
    python scripts/sweep.py add long_720@240 runs/i21_long_720/ckpt/step-240  # a row per step, as for an arm

For every complete checkpoint (RUN/train/checkpoints/checkpoint-N with symtune's completion marker) it
runs the run's `eval_tuned` configuration (from RUN/run.json: same split, tasks, seeds, settings,
permutation control) with that checkpoint as the adapter, into RUN/ckpt/step-N/eval_tuned, and copies
RUN/eval_base beside it, so each step folder reads like a run folder (`symtune report`, `sweep.py add`).
A finished step is skipped and an interrupted one resumes (the evaluation's own resume). The last step
is the run's final adapter, already in RUN/eval_tuned: it is skipped unless --all. LoRA runs only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
from pathlib import Path


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    from symtune.train.folder import MARKER

    out = []
    for p in (run / "train" / "checkpoints").glob("checkpoint-*"):
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and (p / MARKER).is_file() and (p / "adapter_config.json").is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def tuned_config(run: Path):
    """The run's tuned-evaluation config, rebuilt from run.json exactly as `symtune run` wired it."""
    from symtune.config import resolve
    from symtune.run_config import RunConfig, stage_configs

    doc = json.loads((run / "run.json").read_text(encoding="utf-8"))
    cfg = resolve(RunConfig, [(str(run / "run.json"), doc["config"])])
    if cfg.train.method != "lora":
        sys.exit(f"{run}: checkpoints are evaluated as LoRA adapters; this run trained method {cfg.train.method}")
    return stage_configs(cfg, run)["eval_tuned"]


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a run folder written by `symtune run` (run.json, eval_base, train/checkpoints)")
    ap.add_argument("--steps", default="", help="comma-separated steps to evaluate (default: every kept one)")
    ap.add_argument("--all", action="store_true", help="also the last step (the run's eval_tuned already has it)")
    args = ap.parse_args(argv)
    from symtune.eval import evaluate

    run = Path(args.run)
    if not (run / "eval_base" / "results.json").is_file():
        sys.exit(f"{run}: needs a finished eval_base (run `symtune run` first)")
    ecfg = tuned_config(run)
    found = checkpoints(run)
    wanted = {int(s) for s in args.steps.split(",") if s.strip()}
    last = json.loads((run / "run.json").read_text(encoding="utf-8"))["config"]["train"]["steps"]
    done = []
    for step, ckpt in found:
        if (wanted and step not in wanted) or (step == last and not args.all and not wanted):
            continue
        dest = run / "ckpt" / f"step-{step}"
        if not (dest / "eval_base" / "results.json").is_file():
            shutil.copytree(run / "eval_base", dest / "eval_base", dirs_exist_ok=True)
        print(f"step {step}: {ckpt} -> {dest / 'eval_tuned'}", file=sys.stderr, flush=True)
        evaluate(dataclasses.replace(ecfg, adapter=str(ckpt)), dest / "eval_tuned", log=print)
        done.append(dest)
    if not done:
        print(f"{run}: no checkpoint to evaluate (kept: {[s for s, _ in found]})", file=sys.stderr)
    return done


if __name__ == "__main__":
    from symtune.errors import script_main

    sys.exit(script_main(main))
