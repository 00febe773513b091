"""The report's training and tuning-data sections (from train/log.jsonl and data/stats.json).

    from symtune.report.sections import training_section, data_section
"""

from __future__ import annotations

from symtune.report import plots
from symtune.report.analysis import train_summary
from symtune.report.blocks import Image, Para, Table
from symtune.report.fmt import DASH, count, count_of, value
from symtune.report.load import Run


def training_section(runs: list[Run]) -> list:
    out: list = []
    sums = [train_summary(r) for r in runs]
    if not any(sums):
        return [Para("No training log (train/log.jsonl) in " + ", ".join(f"`{r.label}`" for r in runs) + ".")]
    png = plots.loss_curve(runs)
    if png:
        out.append(Image("loss.png", "Training loss per optimizer step", png))
    header = ["Quantity"] + [r.label for r in runs] if len(runs) > 1 else ["Quantity", "Value"]
    rows = [
        ["last step"] + [str(s["steps"]) if s else DASH for s in sums],
        ["logged steps"] + [str(s["logged"]) if s else DASH for s in sums],
        ["first loss"] + [f"{s['first_loss']:.3f}" if s else DASH for s in sums],
        ["final loss (mean of last logged steps)"] + [f"{s['final_loss']:.3f} ({s['tail']} steps)" if s else DASH for s in sums],
        ["minimum loss"] + [f"{s['min_loss']:.3f}" if s else DASH for s in sums],
        ["peak learning rate"] + [f"{s['peak_lr']:.2e}" if s and s["peak_lr"] is not None else DASH for s in sums],
        ["status"] + [str((r.train_meta or {}).get("status", DASH)) for r in runs],
        ["throughput (tokens/s, mean)"] + [f"{s['tokens_per_s']:.0f}" if s and s["tokens_per_s"] else DASH for s in sums],
    ]
    out.append(Table(header, rows))
    return out


def data_section(runs: list[Run]) -> list:
    stats = [r.data_stats for r in runs]
    if not any(stats):
        return [Para("No tuning-data statistics (data/stats.json) in " + ", ".join(f"`{r.label}`" for r in runs) + ".")]
    out: list = []
    multi = len(runs) > 1
    head = ["Statistic"] + ([r.label for r in runs] if multi else ["Value"])
    scalars = []
    known = (("n_prompts", "prompts"), ("label_mode", "label mode"), ("symbol_fraction", "symbol fraction"),
             ("shortened_prompts", "prompts shortened to fit"),
             ("tokens_mean", "tokens per prompt (mean)"), ("tokens_max", "tokens per prompt (max)"))
    for key, name in known:
        # label mode and symbol fraction may live in the data config rather than the statistics
        vals = [(s or {}).get(key, (r.data_config or {}).get(key) if s else None) for s, r in zip(stats, runs)]
        if any(v is not None for v in vals):
            scalars.append([name] + [DASH if v is None else value(v) for v in vals])
    for key in sorted({k for s in stats if s for k, v in s.items() if isinstance(v, (int, float, str, bool))}):
        if key not in {k for k, _ in known}:
            scalars.append([key] + [value((s or {}).get(key)) if (s or {}).get(key) is not None else DASH for s in stats])
    if scalars:
        out.append(Table(head, scalars))
    for key, title, first in (("tasks", "Prompts per tuning task", "Task"),
                              ("label_modes", "Prompts per label mode", "Label mode"),
                              ("symbol_families", "Symbol families (labels drawn from each)", "Family"),
                              ("templates", "Prompts per template", "Template")):
        dicts = [(s or {}).get(key) if isinstance((s or {}).get(key), dict) else {} for s in stats]
        names: list[str] = []
        for d in dicts:
            names += [k for k in d if k not in names]
        if names:
            out.append(Para(f"**{title}**"))
            rows = [[n] + [count(d.get(n)) for d in dicts] for n in names]
            rows.append(["**total**"] + [count(sum(count_of(v) for v in d.values())) if d else DASH for d in dicts])
            out.append(Table([first] + ([r.label for r in runs] if multi else ["Count"]), rows))
    png = plots.exemplar_histogram(runs)
    if png:
        out.append(Image("data_exemplars.png", "Tuning prompts per number of exemplars per class", png))
    return out
