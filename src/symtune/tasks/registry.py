"""Task registry: bundled tasks (tasks/bundled.yaml + tasks/data/*.jsonl.gz), user files, Hub datasets.

    get_task("bbc_sport_business")          # a bundled Task
    list_tasks(role="eval")                  # every bundled task of a role
    default_tune_tasks(), default_eval_tasks()
    task_from_file("my.csv", text_col="text", label_col="label")
    task_from_hf("stanfordnlp/sst2", text_col="sentence", label_col="label")
    load_task_config("paper")                # the paper's 22 + 11 Hub datasets (lazy)
    load_algorithmic("list_functions")       # vendored BIG-bench algorithmic data

Example.label is always an int index into Task.labels.
"""

from __future__ import annotations

# The registry is a facade: each source of tasks lives in its own module.
from symtune.tasks.algorithmic import ALGORITHMIC, load_algorithmic
from symtune.tasks.bundled import (BUNDLED_YAML, DATA_DIR, PAPER_YAML, ROLES, SPLITS, data_files, default_eval_tasks,
                                   default_tune_tasks, get_task, get_tasks, list_tasks, task_info)
from symtune.tasks.files import stratified_split, task_from_file
from symtune.tasks.hub import task_from_hf
from symtune.tasks.task_config import load_task_config

__all__ = ["ALGORITHMIC", "BUNDLED_YAML", "DATA_DIR", "PAPER_YAML", "ROLES", "SPLITS", "data_files", "default_eval_tasks",
           "default_tune_tasks", "get_task", "get_tasks", "list_tasks", "load_algorithmic", "load_task_config",
           "stratified_split", "task_from_file", "task_from_hf", "task_info"]
