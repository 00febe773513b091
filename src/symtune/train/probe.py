"""Training-time probe: ICL accuracy every `probe_every` steps, logged to log.jsonl and plotted in loss.png.

    symtune train --data rows.jsonl --out runs/lora --steps 240 --probe-every 20
    symtune run --preset default --train.probe_every 20 --out runs/x

Loss alone did not predict ICL gains in the feasibility probes, so the trainer can measure two things
while it trains, with the evaluation's own prompt builder and rank scorer (symtune.eval):

- symbols: `probe_rows` held-out prompts of the tuning tasks (the tasks named in the training rows'
  meta.task; split evenly, rounded up), k = 2 exemplars per class, symbols from the EVAL pool, queries from each task's query
  split (the data builder draws from the exemplar split, so no probe query is a training query), seed
  stream "{seed}|icl|<task>|<doc_id>" (the data builder's is "symtune-data:..."). Or, with
  `probe_data`, rows of a JSONL file in the training format (options = meta.symbols, gold =
  meta.query_class).
- canary: natural-label accuracy on `probe_canary` (default snips_7way, the task the default preset
  damaged most), `probe_canary_queries` queries of its DEV split at k = 4 (never a test query).

The prompts are built once at the start; step 0 (the untouched model) is probed too unless the run
resumes. The probe runs on the main process in eval mode under inference_mode, so it changes neither
the weights nor the data order (its fields are runtime-only: tests/test_train_probe.py).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from symtune.errors import SymtuneError

TUNE_K = 2  # exemplars per class in the symbols probe (the tuning prompts hold 2-3)
CANARY_K = 4  # the evaluation's k
MAX_LENGTH = 2048  # probe prompts drop exemplars beyond this (the training max_length may be tighter)


@dataclass
class ProbeSet:
    name: str  # "symbols" or "canary"
    items: list  # symtune.eval.items.Item

    @property
    def chance(self) -> float:
        return sum(1.0 / len(it.options) for it in self.items) / len(self.items)


def _rows_items(path: str) -> list:
    from symtune.eval.items import Item

    p = Path(path)
    if not p.is_file():
        raise SymtuneError(f"probe_data {p} does not exist; pass a JSONL of training-format rows (symtune data)")
    items = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            meta = row["meta"]
            options, gold = [str(s) for s in meta["symbols"]], int(meta["query_class"])
            prompt = row["prompt"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise SymtuneError(f"{p}:{i}: a probe row needs prompt, meta.symbols and meta.query_class "
                               "(rows written by `symtune data`)") from None
        if not 0 <= gold < len(options) or len(set(options)) != len(options):
            raise SymtuneError(f"{p}:{i}: meta.query_class must index meta.symbols (distinct symbols)")
        items.append(Item("probe", str(meta.get("task", "rows")), "symbols", i, prompt, options, gold,
                          key=str(meta.get("task", "rows"))))
    if not items:
        raise SymtuneError(f"probe_data {p} holds no rows")
    return items


def build_probe(cfg, rows: list[dict], tok) -> list[ProbeSet]:
    """The fixed probe prompts: symbols (tuning tasks or probe_data) and the natural-label canary."""
    from symtune.eval.config import EvalConfig
    from symtune.eval.scoring import Encoder
    from symtune.eval.items import serve
    from symtune.prompting.fit import Budget
    from symtune.eval.suites import icl_items
    from symtune.tasks.registry import get_task

    if cfg.probe_rows < 1 or cfg.probe_canary_queries < 1:
        raise SymtuneError("probe_rows and probe_canary_queries must be at least 1")
    chat = None
    if any((r.get("meta") or {}).get("chat_template") for r in rows):  # probe the way the rows were rendered
        from symtune.chat import ChatWrap

        chat = ChatWrap(tok)
    budget = Budget(Encoder(tok), MAX_LENGTH, chat)
    sets = []
    if cfg.probe_data:
        sets.append(ProbeSet("symbols", _rows_items(cfg.probe_data)))
    else:
        names = list(dict.fromkeys(str((r.get("meta") or {}).get("task", "")) for r in rows))
        tasks = []
        for n in names:
            try:
                t = get_task(n)
            except SymtuneError:
                continue  # a user file's task: not in the registry
            if not t.classes_per_prompt:  # `sources`: all 16 classes in one probe prompt would be unlike its rows
                tasks.append(t)
        if not tasks:
            raise SymtuneError("the probe found no registered tuning task in the rows' meta.task (tasks with their "
                               "own classes per prompt, such as sources, are not probed); pass probe_data "
                               "(rows in the training format) or set probe_every 0")
        per_task = math.ceil(cfg.probe_rows / len(tasks))
        ecfg = EvalConfig(seed=cfg.seed, k=TUNE_K, limit=per_task, settings=["symbols"])
        sets.append(ProbeSet("symbols", serve([it for t in tasks for it in icl_items(t, ecfg, tok, budget,
                                                                                      settings=["symbols"])], budget)))
    if cfg.probe_canary:
        task = get_task(cfg.probe_canary)
        ecfg = EvalConfig(seed=cfg.seed, k=CANARY_K, split="dev", dev_limit=cfg.probe_canary_queries,
                          dev_settings=["labels"])
        sets.append(ProbeSet("canary", serve(icl_items(task, ecfg, tok, budget, settings=["labels"]), budget)))
    return sets


def run_probe(model, tok, sets: list[ProbeSet], batch_size: int) -> dict:
    """Accuracy per probe set (rank scoring, summed log-prob, as the evaluation's `acc`)."""
    from symtune.eval.runner import score_items
    from symtune.eval.scoring import Scorer

    was_training = model.training
    model.eval()
    t0 = time.perf_counter()
    out: dict = {}
    try:
        scorer = Scorer(model, tok, batch_size=batch_size)
        for s in sets:
            rows = score_items(scorer, s.items, "rank")
            out[f"probe_{s.name}_acc"] = round(sum(r["pred"] == r["gold"] for r in rows) / len(rows), 4)
            out[f"probe_{s.name}_n"] = len(rows)
            out[f"probe_{s.name}_chance"] = round(s.chance, 4)
    finally:
        model.train(was_training)
    out["probe_s"] = round(time.perf_counter() - t0, 2)
    return out
