"""Experiment tracking: `train.report_to`, checked here and handed to transformers' TrainingArguments.

    symtune train --data rows.jsonl --out runs/lora --report-to tensorboard
    tensorboard --logdir runs/lora          # event files under runs/lora/checkpoints/runs/

The Trainer's own integrations do the logging (loss, learning rate, held-out loss and every metric the
trainer logs); this module only turns the option into their names and fails early, in one line, on a
name transformers does not know or a tracker whose package is not installed.
"""

from __future__ import annotations

from symtune.errors import SymtuneError


def report_to(value: str) -> list[str]:
    """'none' -> []; 'tensorboard,wandb' -> ['tensorboard', 'wandb'] after checking each name."""
    names = [n.strip() for n in str(value or "none").split(",") if n.strip()]
    if not names or names == ["none"]:
        return []
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    known = sorted(INTEGRATION_TO_CALLBACK)
    if names == ["all"]:
        return get_available_reporting_integrations()
    for n in names:
        if n not in INTEGRATION_TO_CALLBACK:
            raise SymtuneError(f"option 'report_to': unknown tracker {n!r}; use none or a comma-separated list "
                               f"of {', '.join(known)}")
        if n not in get_available_reporting_integrations():
            raise SymtuneError(f"option 'report_to': {n} is not installed in this environment; "
                               f"pip install {n.replace('_', '-')} (or use report_to none)")
    return names
