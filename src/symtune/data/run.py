"""Resolve tasks and tokenizer from a DataConfig, build rows, write JSONL + stats atomically."""

from __future__ import annotations

import json
import time
from pathlib import Path

from symtune.data.build import RowBuilder, Stats, iter_lines
from symtune.data.config import DataConfig
from symtune.errors import SymtuneError
from symtune.provenance import provenance, write_json_atomic


def resolve_tasks(cfg: DataConfig) -> list:
    """The tuning tasks (tasks/select.py's rule), capped at max_tasks, none of them held out."""
    from symtune.tasks.select import select_tasks

    files = [(path, dict(text_col=cfg.text_col, label_col=cfg.label_col, text_pair_col=cfg.text_pair_col,
                         role="tune", seed=cfg.seed)) for path in cfg.task_files]
    tasks = select_tasks("tune", names=cfg.tasks, task_config=cfg.task_config, files=files)
    if cfg.max_tasks is not None:
        if cfg.max_tasks < 1:
            raise SymtuneError("--max-tasks must be at least 1")
        tasks = tasks[: cfg.max_tasks]
    from symtune.tasks.overlap import check_not_held_out

    for t in tasks:  # by data, not name: a held-out task given role tune in a task config is still held out
        check_not_held_out(t)
    return tasks


def check_config(cfg: DataConfig) -> list:
    """Check the options and resolve the tasks (nothing is built or written); returns the tasks.

    The data stage's one validation: build_dataset() calls it (through make_builder), and `symtune run`
    calls it before any stage starts."""
    from symtune.data import formats

    if cfg.n_prompts is None:
        raise SymtuneError("n_prompts auto (null) follows the training steps and is resolved by `symtune run`; "
                           "pass a number of prompts here")
    formats.check_format(cfg.format)
    if cfg.chat_template and cfg.format == "messages":
        raise SymtuneError("options 'chat_template' and 'format messages' both apply a chat format; messages rows "
                           "leave the template to the trainer, so use chat_template false with them")
    if cfg.n_prompts < 1:
        raise SymtuneError(f"--n-prompts must be at least 1, got {cfg.n_prompts}")
    if cfg.max_length < 16:
        raise SymtuneError(f"--max-length {cfg.max_length} is too small; use at least a few hundred tokens")
    if cfg.workers < 1:
        raise SymtuneError(f"--workers must be at least 1, got {cfg.workers}")
    if cfg.task_cap < 1:
        raise SymtuneError(f"--task-cap must be at least 1 (a task weighs min(#examples, cap)), got {cfg.task_cap}")
    if cfg.max_symbol_tokens is not None and cfg.max_symbol_tokens < 1:
        raise SymtuneError(f"--max-symbol-tokens must be at least 1 (a symbol is one token or more), "
                           f"got {cfg.max_symbol_tokens}; leave it unset for no cap")
    return resolve_tasks(cfg)


def make_builder(cfg: DataConfig, tokenizer=None) -> RowBuilder:
    tasks = check_config(cfg)
    if tokenizer is None:
        from symtune.models import load_tokenizer

        tokenizer = load_tokenizer(cfg.model)
    return RowBuilder(cfg, tasks, tokenizer)


def stats_path(out: Path) -> Path:
    return out.with_name(out.stem + ".stats.json")


def check_output_path(cfg: DataConfig, out: str | Path, config_file: str | None = None,
                      overwrite: bool | None = None) -> Path:
    """Refuse, before any work: an --out that is an input (task file, task config, config file), an
    existing --out without --force, and a location that cannot be written. Returns out as a Path."""
    from symtune.paths import check_not_input, check_output

    out = check_output(out, kind="folder" if cfg.format == "hf-dataset" else "file", option="--out")
    stats = stats_path(out)
    check_output(stats, kind="file", option="--out (its .stats.json)")
    task_config = cfg.task_config if cfg.task_config not in (None, "paper", "bundled") else None
    inputs = [*cfg.task_files, task_config, config_file]
    check_not_input(out, inputs)
    check_not_input(stats, inputs, option="--out (its .stats.json)")
    if not (cfg.force if overwrite is None else overwrite):
        for p in (out, stats):
            if p.exists():
                raise SymtuneError(f"{p} already exists; pass --force to overwrite it or choose a new --out")
    elif cfg.format == "hf-dataset":
        from symtune.ownership import check_replaceable

        check_replaceable(out)  # --force replaces a dataset folder symtune wrote, never the user's files
    return out


def build_dataset(cfg: DataConfig, out: str | Path, tokenizer=None, progress: bool = True,
                  overwrite: bool | None = None, config_file: str | None = None) -> dict:
    """Write `out` (JSONL) and `<stem>.stats.json` (config, provenance, statistics). Returns stats.

    An existing `out` is replaced only with `overwrite` (default: cfg.force); an input file never is."""
    from tqdm.auto import tqdm

    from symtune import runtime
    from symtune.data import formats
    from symtune.provenance import remove_stale_temps, write_stream_atomic

    formats.check_format(cfg.format)  # before the output path (check_config repeats it with the other options)
    out = check_output_path(cfg, out, config_file=config_file, overwrite=overwrite)
    builder = make_builder(cfg, tokenizer)
    table = [] if cfg.format in ("parquet", "hf-dataset") else None  # written at the end through `datasets`
    stats = Stats()
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)  # left by a run killed with SIGKILL
    remove_stale_temps(stats_path(out))
    previous = runtime.install_signal_handlers()  # SIGTERM too must remove the temporary file
    try:
        def write(fh):
            bar = tqdm(total=cfg.n_prompts, desc="building prompts", unit="prompt", disable=not progress)
            for line, meta in iter_lines(builder, cfg.n_prompts, cfg.workers):
                if table is None:
                    fh.write(formats.line_for(line, cfg.format) + "\n")
                else:
                    table.append(json.loads(line))
                stats.add_meta(meta)
                bar.update(1)
                runtime.check_interrupted()  # a signal whose exception was lost (e.g. in a __del__)
            bar.close()

        if table is None:
            write_stream_atomic(out, write)
        else:
            write(None)
            formats.write_table(table, out, cfg.format)
    finally:
        runtime.restore_signal_handlers(previous)
    summary = stats.as_dict()
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    from dataclasses import asdict

    write_json_atomic(stats_path(out), {"config": asdict(cfg), "stats": summary, "provenance": provenance(),
                                        "tasks": [t.name for t in (d.task for d in builder.data)]})
    return summary


def format_row(row: dict) -> str:
    m = row["meta"]
    head = (f"--- task={m['task']} template={m['template']} mode={m['label_mode']} "
            f"symbols={m['symbols']} exemplars={m['n_exemplars']} tokens={m['n_tokens']} ---")
    return f"{head}\n{row['prompt']}\u2039{row['completion']}\u203a"
