"""Classification tasks: one schema (base.Task), three sources (bundled files, Hub, user files).

See registry.py (get_task, list_tasks, default_tune_tasks, default_eval_tasks, task_from_file,
task_from_hf, load_task_config, load_algorithmic) and docs/TASKS.md.
"""

from symtune.tasks.base import Example, Task  # noqa: F401
from symtune.tasks.registry import (  # noqa: F401
    default_eval_tasks,
    default_tune_tasks,
    get_task,
    get_tasks,
    list_tasks,
    load_algorithmic,
    load_task_config,
    task_from_file,
    task_from_hf,
)
