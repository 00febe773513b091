"""loss.png from log.jsonl (matplotlib, Agg backend)."""

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
    if not train and not evals:
        return False
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
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy per supervised token (nats)")
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
