"""Evaluation: scoring engine (rank + generate), suites (icl, flipped, algorithmic), runner, export.

    from symtune.eval import EvalConfig, evaluate
    doc = evaluate(EvalConfig(model="smollm2-135m", suite="icl"), "runs/eval_base")

    encoding.py the request contract (lm-eval rules): Request, Encoder, Scored
    scoring.py  Scorer: rank + greedy generation, one packed pass per batch
    threads.py  CPU threads per process
    items.py    Item (one prompt + options) and serve (the chat template, when the run uses one)
    suites.py   the classification suites (icl, flipped, flip curve, k curve) from one per-query generator
    algorithmic_suites.py  List Functions and Simple Turing Concepts
    build.py    which items an evaluation scores: tasks, suites, notes (build_items)
    metrics.py  acc / acc_norm / acc_gen, the one correctness rule, chance, majority share, summary
    stats.py    every statistic: Wilson, means, clustered paired intervals
    diagnostics.py, curves.py  copy-last, majority, symbol families, permutation control; flip and k curves
    runner.py   resumable, data-parallel runs -> results.json + samples_<suite>_<task>.jsonl
    cache.py    content-addressed store of finished evaluations (the base model's, reused across runs)
    export.py   the same prompts as an lm-evaluation-harness task

Prompt text (symbols, templates, exemplar and query draws, the token-limit rule) comes from
symtune.prompting, the home the tuning rows share.
"""

from symtune.eval.config import EvalConfig

# With --processes unset, an evaluation of fewer prompts runs in one process: starting two (each loading
# torch and the model, ~10 s) costs more than the ~1.1x they score faster on a 2-core CPU.
MIN_PROMPTS_TO_RELAUNCH = 200


def validate(cfg: EvalConfig, produced=()) -> list:
    """Every check of the eval stage that needs no model: options, paths (but those in `produced`, which
    an earlier stage of `symtune run` writes) and tasks. evaluate() calls it first, and `symtune run`
    calls it for both of its evaluations before any stage starts. Returns the icl/flipped tasks."""
    from symtune.eval.runner import check_inputs

    check_inputs(cfg, produced)
    if cfg.suite == "algorithmic":
        return []
    from symtune.eval.build import resolve_tasks

    return resolve_tasks(cfg)


def evaluate(cfg: EvalConfig, out, log=print) -> dict | None:
    """The `eval` stage: in this process, or as cfg.processes local processes under `accelerate launch`.

    Returns the results dict (None on non-main ranks)."""
    import dataclasses

    from symtune import runtime
    from symtune.eval.runner import check_out_folder, config_hash, prepare, run_eval
    from symtune.hardware import default_processes, resolve

    validate(cfg)
    processes = cfg.processes or (1 if runtime.in_child() else default_processes(resolve(cfg.device, cfg.dtype)))
    if processes > 1 and not runtime.in_child():
        import json
        from pathlib import Path

        from symtune import ownership
        from symtune.eval.scoring import default_threads

        # fail fast, with one line, before starting N processes: every prompt is built here once (a few
        # seconds), so task, exemplar and length errors never surface as N children's tracebacks
        items = prepare(cfg)[0]
        if cfg.processes is None and len(items) < MIN_PROMPTS_TO_RELAUNCH:
            return run_eval(cfg, out, log=log)  # starting processes would cost more than it saves
        check_out_folder(Path(out), cfg, config_hash(cfg))
        threads = cfg.threads or default_threads(processes)
        with ownership.locked(out):  # held for the children too (runtime.launch tells them)
            runtime.launch("eval", dataclasses.replace(cfg, processes=processes), processes=processes,
                           verb_args=["--out", str(out)], env_extra={"OMP_NUM_THREADS": str(threads)})
        return json.loads((Path(out) / "results.json").read_text(encoding="utf-8"))
    return run_eval(cfg, out, log=log)


__all__ = ["EvalConfig", "evaluate", "validate"]
