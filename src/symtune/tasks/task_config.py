"""Task config files: the paper's 22 + 11 Hub datasets (tasks/paper.yaml) or a user's YAML, loaded lazily."""

from __future__ import annotations

from pathlib import Path

import yaml

from symtune.config_yaml import safe_load_bounded
from symtune.errors import SymtuneError
from symtune.tasks.base import Task
from symtune.tasks.bundled import PAPER_YAML, get_task, list_tasks
from symtune.tasks.hub import task_from_hf

_HF_KEYS = {"dataset", "config", "text_col", "label_col", "text_pair_col", "labels", "label_values",
            "exemplar_split", "query_split", "name", "role", "instruction", "task_type", "max_examples",
            "licence", "description", "abbr", "data_files", "revision"}


def load_task_config(path_or_name: str | Path, role: str | None = None) -> list[Task]:
    """Tasks from a task config YAML: 'paper' (the bundled paper.yaml) or a file path.

    The file holds `tasks: [...]`; each entry either names a bundled task (`bundled: name`) or
    describes a Hub dataset (`dataset`, `config`, `text_col`, `label_col`, `labels`, ...).
    Hub-backed tasks are lazy: nothing is downloaded until examples are requested.
    """
    p = PAPER_YAML if str(path_or_name) == "paper" else Path(path_or_name)
    if str(path_or_name) == "bundled":
        return list_tasks(role)
    if not p.is_file():
        raise SymtuneError(f"task config {p} does not exist; pass 'paper', 'bundled' or a YAML file")
    try:
        data = safe_load_bounded(p.read_text(encoding="utf-8"), f"task config {p}")  # no alias bomb, no duplicate key
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SymtuneError(f"task config {p} is not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise SymtuneError(f"task config {p} must hold `tasks:` followed by a list of task entries")
    out = []
    for i, entry in enumerate(data["tasks"]):
        if not isinstance(entry, dict):
            raise SymtuneError(f"task config {p}: entry {i + 1} must be a mapping")
        if "bundled" in entry:
            t = get_task(entry["bundled"])
            if "role" in entry:
                t.role = entry["role"]
        else:
            unknown = sorted(set(entry) - _HF_KEYS)
            if unknown:
                raise SymtuneError(f"task config {p}: entry {entry.get('name', i + 1)} has unknown key(s) "
                                   f"{', '.join(unknown)}; valid keys are {', '.join(sorted(_HF_KEYS))}")
            for req in ("dataset", "name", "labels", "role"):
                if req not in entry:
                    raise SymtuneError(f"task config {p}: entry {entry.get('name', i + 1)} lacks '{req}'")
            kw = {k: entry[k] for k in ("data_files", "revision") if k in entry}
            t = task_from_hf(entry["dataset"], entry.get("config"), text_col=entry.get("text_col", "text"),
                             label_col=entry.get("label_col", "label"), text_pair_col=entry.get("text_pair_col"),
                             label_names=entry["labels"], exemplar_split=entry.get("exemplar_split", "train"),
                             query_split=entry.get("query_split", "validation"), name=entry["name"],
                             role=entry["role"], instruction=entry.get("instruction"),
                             task_type=entry.get("task_type", "classification"),
                             label_values=entry.get("label_values"), max_examples=entry.get("max_examples"),
                             licence=entry.get("licence", ""), description=entry.get("description", ""), **kw)
        if role is None or t.role == role:
            out.append(t)
    return out
