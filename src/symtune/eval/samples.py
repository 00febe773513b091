"""The per-query sample rows of an evaluation: their fields and their files (one home for both).

    DIR/samples_<suite>_<task>.jsonl    one row per scored prompt, written by eval/runner.py,
                                        read by eval/metrics.py and the report (never rerunning a model)

A row: doc_id, setting, suite, task, key, prompt_hash, prompt, options, context_tokens, option_tokens,
logprobs, pred, pred_norm, gold, [generation], meta. Task names become file names through
`samples_name`, which replaces any character outside [A-Za-z0-9_.+-] by '_' (a user's task
"my task/v2" is stored as samples_icl_my_task_v2.jsonl); readers must use it too.
"""

from __future__ import annotations

import re

GLOB = "samples_*.jsonl"
FIELDS = ("doc_id", "setting", "suite", "task", "key", "prompt_hash", "prompt", "options", "context_tokens",
          "option_tokens", "logprobs", "pred", "pred_norm", "gold", "generation", "meta")


def samples_name(suite: str, task: str) -> str:
    return f"samples_{suite}_{re.sub(r'[^A-Za-z0-9_.+-]', '_', task)}.jsonl"


def sample_row(item, scored) -> dict:
    """The row for one evaluation item (eval/suites.Item) and its score (eval/scoring.Scored)."""
    from symtune.provenance import text_hash

    row = {"doc_id": item.doc_id, "setting": item.setting, "suite": item.suite, "task": item.task, "key": item.key,
           "prompt_hash": text_hash(item.prompt), "prompt": item.prompt, "options": item.options,
           "context_tokens": scored.context_tokens, "option_tokens": scored.n_tokens, "logprobs": scored.logprobs,
           "pred": scored.pred, "pred_norm": scored.pred_norm, "gold": item.gold}
    if scored.generation is not None:
        row["generation"] = scored.generation
    row["meta"] = item.meta
    return row
