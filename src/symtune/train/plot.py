"""loss.png from log.jsonl (matplotlib, Agg backend); a second panel shows the training-time probe
(train/probe.py) when the log holds probe rows, on the same step axis."""

from __future__ import annotations

from pathlib import Path

from symtune.provenance import read_jsonl


def plot_loss(log_path: str | Path, png_path: str | Path, title: str = "symtune train") -> bool:
    """Write the training (and eval) loss curve; False when the log holds no loss yet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_jsonl(log_path) if Path(log_path).is_file() else []
    train = [(r["step"], r["loss"]) for r in rows if r.get("loss") is not None]
    evals = [(r["step"], r["eval_loss"]) for r in rows if r.get("eval_loss") is not None]
    probes = [r for r in rows if "probe_s" in r]
    if not train and not evals:
        return False
    if probes:
        fig, (ax, pax) = plt.subplots(2, 1, figsize=(7, 6.5), dpi=100, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
        _plot_probe(pax, probes)
    else:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        xs, ys = zip(*train)
        ax.plot(xs, ys, lw=1, alpha=0.5 if len(xs) > 20 else 1.0, label="train loss (per step)")
        if len(xs) > 20:
            k = max(5, len(xs) // 20)
            sm = [sum(ys[max(0, i - k + 1): i + 1]) / len(ys[max(0, i - k + 1): i + 1]) for i in range(len(ys))]
            ax.plot(xs, sm, lw=2, label=f"train loss ({k}-step mean)")
    if evals:
        xs, ys = zip(*evals)
        ax.plot(xs, ys, "o-", lw=1.5, label="eval loss")
    if not probes:
        ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss per supervised token (nats)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    import io

    from symtune.provenance import write_bytes_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes_atomic(png_path, buf.getvalue())
    return True


def _plot_probe(ax, probes: list[dict]) -> None:
    for name, label, color in (("symbols", "held-out tuning prompts, eval symbols", "tab:blue"),
                               ("canary", "natural-label canary", "tab:orange")):
        pts = [(r["step"], r[f"probe_{name}_acc"]) for r in probes if f"probe_{name}_acc" in r]
        if not pts:
            continue
        xs, ys = zip(*pts)
        n = probes[-1].get(f"probe_{name}_n")
        ax.plot(xs, ys, "o-", color=color, lw=1.5, label=f"{label} (n={n})")
        ax.axhline(probes[-1][f"probe_{name}_chance"], color=color, ls=":", lw=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("probe accuracy (dotted: chance)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
