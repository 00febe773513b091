"""Which tasks a stage uses: the one selection rule for the data stage (role tune) and evaluation (role eval).

    from symtune.tasks.select import select_tasks
    select_tasks("tune", names=["multiemo_pn"])                 # bundled tasks by name
    select_tasks("eval", task_config="paper", names=["sst2"])   # from a task config, filtered by role
    select_tasks("tune", files=[("my.csv", {"text_col": "text", "label_col": "label", "role": "tune"})])

Names come from a task config (only its tasks of that role) or the registry; task files are added;
with neither, the role's default tasks. Two tasks of one name are refused: rows and results carry
only the name, so they would merge into one.
"""

from __future__ import annotations

from pathlib import Path

from symtune.errors import SymtuneError


def select_tasks(role: str, names=(), task_config: str | None = None, files=()) -> list:
    from symtune.tasks import registry

    names = list(names or ())
    if task_config:
        pool = [t for t in registry.load_task_config(task_config) if t.role == role]
        by_name = {t.name: t for t in pool}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise SymtuneError(f"unknown task(s) {', '.join(missing)} in task config {task_config}; "
                               f"choose from {', '.join(by_name)}")
        tasks = [by_name[n] for n in names] if names else pool
    elif names:
        tasks = registry.get_tasks(names)  # names, or groups such as default-eval
    elif not files:
        tasks = registry.default_tune_tasks() if role == "tune" else registry.default_eval_tasks()
    else:
        tasks = []
    tasks = list(tasks) + [registry.task_from_file(path, **kw) for path, kw in files]
    seen: dict = {}
    for t in tasks:
        if t.name in seen:
            a, b = seen[t.name].source or t.name, t.source or t.name
            fix = ("a task file's name before its first dot is its task name, so rename one of the files"
                   if t.source in {str(Path(p)) for p, _ in files} else "list each task once")
            raise SymtuneError(f"two tasks are named '{t.name}' ({a} and {b}); {fix}")
        seen[t.name] = t
    return tasks
