"""symtune tasks [--role tune|eval] [--config bundled|paper|FILE]: list the task registry."""

HELP = "List the registered tasks (bundled, the paper's Hub datasets, or a task config file)."
DESCRIPTION = """List tasks as a table: name, role, type, classes, train/eval sizes and, for bundled tasks, the
bundled model's measured natural-label ICL accuracy with chance (docs/TASKS.md says how it was measured).

  symtune tasks                   # bundled tasks (real data shipped in the package)
  symtune tasks --role eval       # only the held-out evaluation tasks
  symtune tasks --config paper    # the paper's 22 tuning + 11 eval Hub datasets (sizes not loaded)
  symtune tasks --config my.yaml  # a task config file (`tasks:` list; see docs/TASKS.md)

A `*` after a bundled task's name marks the default tuning mixture / evaluation suite. For symbol tuning,
tasks the model already does in context (ICL well above chance) are the ones it can learn the mapping on."""


def add_arguments(p):
    p.add_argument("--role", choices=["tune", "eval"], default=None, help="only tasks of this role")
    p.add_argument("--config", default="bundled", metavar="bundled|paper|FILE",
                   help="which registry to list (default: bundled)")
    p.add_argument("--sizes", action="store_true",
                   help="with --config paper/FILE: load the datasets to count examples (needs the Hub or a cache)")


def format_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines)


def run(args) -> int:
    from symtune.tasks import registry

    bundled = args.config == "bundled"
    tasks = registry.list_tasks(args.role) if bundled else registry.load_task_config(args.config, role=args.role)
    rows = []
    for t in tasks:
        name = t.name
        if bundled and registry.task_info(t.name).get("default", True):
            name += " *"
        if bundled or args.sizes:
            n_tr, n_ev = str(len(t.examples(t.exemplar_split))), str(len(t.examples(t.query_split)))
        else:
            n_tr = n_ev = "-"
        classes = ", ".join(t.labels)
        if len(classes) > 48:
            classes = classes[:45] + "..."
        row = [name, t.role, t.task_type, f"{t.num_classes}: {classes}", n_tr, n_ev]
        if bundled:
            m = registry.task_info(t.name).get("measured") or {}
            row.append(f"{m['acc']:.2f} ({m['chance']:.2f}, n={m['n']})" if "acc" in m else "-")
        rows.append(row)
    if not rows:
        print("no tasks")
        return 0
    header = ["name", "role", "type", "classes", "train", "eval"] + (["ICL (chance, n)"] if bundled else [])
    print(format_table(rows, header))
    n_tune = sum(t.role == "tune" for t in tasks)
    print(f"\n{len(tasks)} tasks ({n_tune} tune, {len(tasks) - n_tune} eval)"
          + ("; * = default mixture/suite" if bundled else ""))
    return 0
