"""Bundled tasks: real data shipped in the package (tasks/bundled.yaml + tasks/data/*.jsonl.gz)."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Callable, Sequence

import yaml

from symtune.errors import SymtuneError
from symtune.tasks.base import Example, Task

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
BUNDLED_YAML = HERE / "bundled.yaml"
PAPER_YAML = HERE / "paper.yaml"
SPLITS = ("train", "validation")
ROLES = ("tune", "eval")


@functools.lru_cache(maxsize=None)
def _read_rows(file: str) -> tuple[dict, ...]:
    path = DATA_DIR / file
    if not path.is_file():
        raise SymtuneError(f"bundled data file {path} is missing; reinstall symtune (pip install -e .)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh if line.strip())


def _bundled_loader(name: str, file: str, labels: list[str]) -> Callable[[str], list[Example]]:
    index = {lab: i for i, lab in enumerate(labels)}

    def load(split: str) -> list[Example]:
        if split not in SPLITS:
            raise SymtuneError(f"task {name}: unknown split '{split}'; bundled tasks have {', '.join(SPLITS)}")
        return [Example(r["text"], index[r["label"]], r.get("text_pair"))
                for r in _read_rows(file) if r["split"] == split and r["label"] in index]

    return load


@functools.lru_cache(maxsize=None)
def _bundled_specs() -> tuple[dict, ...]:
    data = yaml.safe_load(BUNDLED_YAML.read_text(encoding="utf-8"))
    return tuple(data["tasks"])


def _sources_loader(name: str, sources: tuple[str, ...]) -> Callable[[str], list[Example]]:
    """A derived task whose label is which bundled tuning task a text comes from. Its `train` split takes
    each source's exemplar split, `validation` its query split; a text found under two sources is dropped
    (its label would be ambiguous). Pair inputs are joined by a newline, as scripts/measure_tasks.py shows them."""

    @functools.lru_cache(maxsize=None)
    def both() -> dict[str, list[Example]]:
        per = {s: [] for s in SPLITS}
        owners: dict[str, set] = {}
        for label, src in enumerate(sources):
            t = get_task(src)
            if t.role != "tune" or "sources" in task_info(src):  # never evaluation data, never nested
                raise SymtuneError(f"task {name}: source {src} is not a plain bundled tuning task")
            for split, src_split in (("train", t.exemplar_split), ("validation", t.query_split)):
                for ex in t.examples(src_split):
                    text = ex.text if ex.text_pair is None else f"{ex.text}\n{ex.text_pair}"
                    owners.setdefault(text, set()).add(label)
                    per[split].append(Example(text, label))
        return {s: [e for e in exs if len(owners[e.text]) == 1] for s, exs in per.items()}

    def load(split: str) -> list[Example]:
        if split not in SPLITS:
            raise SymtuneError(f"task {name}: unknown split '{split}'; bundled tasks have {', '.join(SPLITS)}")
        return both()[split]

    return load


def data_files(name: str) -> list[str]:
    """The bundled data files a task reads (a derived task: its sources' files)."""
    spec = task_info(name)
    if "sources" in spec:
        return sorted({f for s in spec["sources"] for f in data_files(s["task"])})
    return [spec["file"]]


def _task_from_spec(spec: dict) -> Task:
    if "sources" in spec:
        labels = [str(s["label"]) for s in spec["sources"]]
        loader = _sources_loader(spec["name"], tuple(s["task"] for s in spec["sources"]))
    else:
        labels = [str(x) for x in spec["labels"]]
        loader = _bundled_loader(spec["name"], spec["file"], labels)
    cpp = spec.get("classes_per_prompt")
    return Task(
        name=spec["name"], role=spec["role"], task_type=spec["task_type"], labels=labels,
        instruction=spec["instruction"], exemplar_split=spec.get("exemplar_split", "train"),
        query_split=spec.get("query_split", "validation"), source=spec.get("source", ""),
        licence=spec.get("licence", ""), pair=bool(spec.get("pair", False)),
        description=_describe(spec), classes_per_prompt=tuple(cpp) if cpp else None, loader=loader)


def _describe(spec: dict) -> str:
    text = " ".join(str(spec.get("description", "")).split())
    m = spec.get("measured")
    if m:
        text += (f" Measured natural-label ICL (smollm2-135m bf16, k={m.get('k', 4)}/class, n={m['n']}): "
                 f"acc {m['acc']:.3f}, chance {m['chance']:.3f}, majority share {m['majority_share']:.2f}.")
    return text.strip()


def task_info(name: str) -> dict:
    """The raw registry entry of a bundled task (incl. `default`, `measured`, `file`)."""
    for spec in _bundled_specs():
        if spec["name"] == name:
            return dict(spec)
    raise _unknown(name)


def _unknown(name: str) -> SymtuneError:
    names = [s["name"] for s in _bundled_specs()]
    import difflib

    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4) or names[:5]
    return SymtuneError(f"unknown task '{name}'; valid names include {', '.join(close)} "
                        "(run `symtune tasks` for the full list)")


def get_task(name: str) -> Task:
    for spec in _bundled_specs():
        if spec["name"] == name:
            return _task_from_spec(spec)
    raise _unknown(name)


def list_tasks(role: str | None = None) -> list[Task]:
    if role is not None and role not in ROLES:
        raise SymtuneError(f"unknown role '{role}'; choose one of {', '.join(ROLES)}")
    return [_task_from_spec(s) for s in _bundled_specs() if role is None or s["role"] == role]


def default_tune_tasks() -> list[Task]:
    return [_task_from_spec(s) for s in _bundled_specs() if s["role"] == "tune" and s.get("default", True)]


def default_eval_tasks() -> list[Task]:
    return [_task_from_spec(s) for s in _bundled_specs() if s["role"] == "eval" and s.get("default", True)]


def get_tasks(names: Sequence[str] | str) -> list[Task]:
    """Tasks by name; 'default-tune' / 'default-eval' / 'all-tune' / 'all-eval' expand to groups."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[Task] = []
    for n in names:
        if n == "default-tune":
            out += default_tune_tasks()
        elif n == "default-eval":
            out += default_eval_tasks()
        elif n in ("all-tune", "all-eval"):
            out += list_tasks(n.split("-")[1])
        else:
            out.append(get_task(n))
    return out
