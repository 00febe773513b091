"""Evaluation: scoring engine (rank + generate), suites (icl, flipped, algorithmic), runner, export.

    scoring.py  Scorer / Encoder: lm-eval request contract, one pass per prompt, batched
    suites.py   prompt items for each suite (seeded, model-independent)
    metrics.py  acc / acc_norm / acc_gen, Wilson CI, chance, majority share, summary
    runner.py   resumable, data-parallel runs -> results.json + samples_<suite>_<task>.jsonl
    export.py   the same prompts as an lm-evaluation-harness task
"""
