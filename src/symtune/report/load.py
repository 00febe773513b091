"""Read a run folder (written by `symtune run`) tolerantly: every part may be missing or damaged.

    RUN/data/stats.json (+ config.json / config.yaml)   tuning-data statistics
    RUN/eval_base/results.json + samples_<suite>_<task>.jsonl
    RUN/train/log.jsonl + symtune_train.json
    RUN/eval_tuned/results.json + samples
    RUN/run.json                                        resolved config, preset, seeds, provenance, timings, control

A bare evaluation folder (results.json at its top) or a bare training folder (log.jsonl at its top) is
accepted too. What is absent or unreadable is recorded in `Run.missing` (the report says so) instead of
failing; only a folder that does not exist or holds no results at all is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.eval.samples import samples_name
from symtune.provenance import read_jsonl

ICL_SETTINGS = ("instr+labels", "labels", "instr+symbols", "symbols")


@dataclass
class Eval:
    """One evaluation folder: results.json plus the per-query samples (loaded lazily)."""

    path: Path
    doc: dict
    results: dict  # suite -> setting -> task -> metrics
    summary: dict
    _samples: dict = field(default_factory=dict, repr=False)

    def tasks(self, suite: str, setting: str) -> dict:
        block = self.results.get(suite, {})
        if not isinstance(block, dict):
            return {}
        tasks = block.get(setting, {})
        return {t: m for t, m in tasks.items() if isinstance(m, dict)} if isinstance(tasks, dict) else {}

    def samples(self, suite: str, task: str) -> list[dict] | None:
        """Rows of samples_<suite>_<task>.jsonl, or None when the file is absent or unreadable."""
        key = (suite, task)
        if key not in self._samples:
            p = self.path / samples_name(suite, task)
            try:
                self._samples[key] = read_jsonl(p) if p.is_file() else None
            except (OSError, UnicodeDecodeError, SymtuneError):  # damaged: absent, never a silent part
                self._samples[key] = None
        return self._samples[key]

    def task_rows(self, suite: str, setting: str, task: str) -> list[dict] | None:
        """One task's rows: its own samples file, or where a suite writes one file per setting (algorithmic:
        a row's key names its subtask) the rows of that file keyed by the task."""
        rows = self.samples(suite, task)
        if rows is None and task != setting:
            whole = self.samples(suite, setting)
            rows = [r for r in whole if r.get("key") == task] if whole else None
        return rows


@dataclass
class Run:
    path: Path
    label: str
    base: Eval | None = None
    tuned: Eval | None = None
    train_log: list[dict] = field(default_factory=list)
    train_meta: dict | None = None
    data_stats: dict | None = None
    data_config: dict | None = None
    run_meta: dict | None = None
    missing: list[str] = field(default_factory=list)  # one line per absent / unreadable part
    notes: list[str] = field(default_factory=list)

    @property
    def has_results(self) -> bool:
        return any([self.base, self.tuned, self.train_log, self.data_stats])


def _read_json(path: Path, run: Run, what: str) -> dict | None:
    if not path.is_file():
        run.missing.append(f"{what} ({_rel(path, run)} not found)")
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        run.missing.append(f"{what} ({_rel(path, run)} unreadable: {str(e).splitlines()[0]})")
        return None
    if not isinstance(doc, dict):
        run.missing.append(f"{what} ({_rel(path, run)} does not hold a JSON object)")
        return None
    return doc


def _rel(path: Path, run: Run) -> str:
    try:
        return str(path.relative_to(run.path))
    except ValueError:
        return str(path)


def _load_eval(folder: Path, run: Run, what: str) -> Eval | None:
    doc = _read_json(folder / "results.json", run, what)
    if doc is None:
        return None
    results = doc.get("results")
    if not isinstance(results, dict):
        run.missing.append(f"{what} ({_rel(folder / 'results.json', run)} has no 'results' mapping)")
        return None
    summary = doc.get("summary") if isinstance(doc.get("summary"), dict) else {}
    return Eval(path=folder, doc=doc, results=results, summary=summary)


def _load_train(folder: Path, run: Run) -> None:
    log = folder / "log.jsonl"
    if log.is_file():
        try:
            rows = read_jsonl(log)
        except (OSError, UnicodeDecodeError, SymtuneError) as e:
            rows = []
            run.missing.append(f"training log ({_rel(log, run)} unreadable: {e})")
        run.train_log = [r for r in rows if isinstance(r, dict)]
        if not any(_num(r.get("loss")) is not None for r in run.train_log):
            run.missing.append(f"training loss ({_rel(log, run)} has no rows with a 'loss')")
    else:
        run.missing.append(f"training log ({_rel(log, run)} not found)")
    meta = folder / "symtune_train.json"
    if meta.is_file():
        run.train_meta = _read_json(meta, run, "training config")
    elif run.train_log:
        run.missing.append(f"training config ({_rel(meta, run)} not found)")


def _num(x) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


def load_run(path: str | Path, label: str | None = None) -> Run:
    p = Path(path)
    if not p.exists():
        raise SymtuneError(f"report: run folder {p} does not exist; pass a folder written by `symtune run`")
    if not p.is_dir():
        raise SymtuneError(f"report: {p} is not a folder; pass a run folder written by `symtune run`")
    run = Run(path=p, label=label or _default_label(p))
    if (p / "results.json").is_file() and not (p / "eval_tuned").exists() and not (p / "eval_base").exists():
        # a bare evaluation folder: eval_base -> base column, anything else -> tuned column
        ev = _load_eval(p, run, "evaluation")
        if p.name == "eval_base":
            run.base = ev
            run.notes.append("a single evaluation folder (shown as the base model)")
        else:
            run.tuned = ev
            run.notes.append("a single evaluation folder (shown in the tuned column; no base to compare)")
        return _check(run)
    if (p / "log.jsonl").is_file() and not (p / "train").exists():
        _load_train(p, run)
        run.notes.append("a single training folder")
        return _check(run)

    run.run_meta = _read_json(p / "run.json", run, "run record")
    run.base = _load_eval(p / "eval_base", run, "base evaluation")
    _load_train(p / "train", run)
    run.tuned = _load_eval(p / "eval_tuned", run, "tuned evaluation")
    data = p / "data"
    stats = _read_json(data / "stats.json", run, "tuning-data statistics")
    if stats is not None:  # what `symtune data` writes: {"config", "stats", "provenance", ...}
        if isinstance(stats.get("stats"), dict):
            run.data_stats = stats["stats"]
            run.data_config = stats["config"] if isinstance(stats.get("config"), dict) else None
        else:
            run.missing.append("tuning-data statistics (data/stats.json does not hold the 'stats' that "
                               "`symtune data` writes)")
    return _check(run)


def _check(run: Run) -> Run:
    if not run.has_results:
        damaged = [m for m in run.missing if "unreadable" in m or "does not hold" in m or "has no 'results'" in m]
        if damaged:
            raise SymtuneError(f"report: {run.path} holds no readable results: {'; '.join(damaged)}; "
                               "restore the file or rerun the stage that writes it")
        raise SymtuneError(
            f"report: {run.path} holds no results (no eval_base/ or eval_tuned/results.json, train/log.jsonl "
            "or data/stats.json); pass a folder written by `symtune run`"
        )
    return run


def _default_label(p: Path) -> str:
    p = p.resolve()
    if p.name in ("eval_base", "eval_tuned", "train") and p.parent.name:
        return f"{p.parent.name}/{p.name}"
    return p.name or str(p)


def load_runs(paths, labels: list[str] | None = None) -> list[Run]:
    paths = [Path(x) for x in paths]
    if not paths:
        raise SymtuneError("report: pass at least one run folder")
    if labels is not None and len(labels) != len(paths):
        raise SymtuneError(
            f"report: --labels has {len(labels)} name(s) for {len(paths)} folder(s); give one label per folder"
        )
    runs = [load_run(p, labels[i] if labels else None) for i, p in enumerate(paths)]
    if not labels:
        seen: dict[str, int] = {}
        for r in runs:  # same folder name twice: add the parent to tell them apart
            seen[r.label] = seen.get(r.label, 0) + 1
        for r in runs:
            if seen[r.label] > 1:
                parent = r.path.resolve().parent.name
                r.label = f"{parent}/{r.label}" if parent else str(r.path)
    return runs
