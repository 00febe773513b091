"""Tuning-data formats other trainers read, and the formats `symtune train` accepts.

    symtune data --out d.jsonl   --format prompt-completion   # default: {"prompt", "completion", "meta"} (TRL SFTTrainer)
    symtune data --out d.jsonl   --format messages            # {"messages": [user, assistant], "meta"} (TRL, Axolotl)
    symtune data --out d.parquet --format parquet             # columns prompt, completion, meta (JSON text)
    symtune data --out d_hf      --format hf-dataset          # datasets.Dataset.save_to_disk folder
    symtune train --data d.parquet ...                        # any of the above, or tasksource's format

`symtune train` also reads the public symbol-tuning data of tasksource (icl-symbol-tuning-instruct):
rows with `task`, `inputs`, `targets` and `symbols` columns (JSONL or Parquet), taken as prompt = inputs
and completion = targets. Its rows carry no exemplar label positions, so they train with --loss label.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from symtune.errors import SymtuneError

FORMATS = ("prompt-completion", "messages", "parquet", "hf-dataset")
TASKSOURCE_COLUMNS = ("task", "inputs", "targets", "symbols")


def _join(prompt: str, answer: str) -> str:
    """The completion for an answer given on its own: a space before it unless the prompt ends in whitespace."""
    if not answer or answer[:1].isspace() or not prompt or prompt[-1:].isspace():
        return answer
    return " " + answer


def to_messages(row: dict) -> dict:
    """prompt/completion row -> chat row: the prompt is the user turn, the label the assistant turn."""
    return {"messages": [{"role": "user", "content": row["prompt"]},
                         {"role": "assistant", "content": row["completion"].lstrip()}],
            "meta": row.get("meta", {})}


def normalize(row: dict) -> dict:
    """Any accepted row (prompt-completion, messages, tasksource; meta as JSON text) -> prompt/completion row.
    Rows that match no format are returned unchanged for the caller's checks to name the problem."""
    if isinstance(row.get("meta"), str):
        try:
            row = {**row, "meta": json.loads(row["meta"])}
        except json.JSONDecodeError:
            pass
    if "prompt" in row or "completion" in row:
        return row
    msgs = row.get("messages")
    if isinstance(msgs, list) and len(msgs) >= 2 and all(isinstance(m, dict) for m in msgs):
        user = [m for m in msgs[:-1] if m.get("role") == "user"]
        last = msgs[-1]
        if user and last.get("role") == "assistant" and isinstance(last.get("content"), str):
            prompt = str(user[-1].get("content", ""))
            return {"prompt": prompt, "completion": _join(prompt, last["content"]), "meta": row.get("meta") or {}}
    if isinstance(row.get("inputs"), str) and isinstance(row.get("targets"), str):
        meta = {"task": row.get("task"), "source": "tasksource/icl-symbol-tuning-instruct"}
        if row.get("symbols") is not None:
            meta["symbols"] = list(row["symbols"])
        return {"prompt": row["inputs"], "completion": _join(row["inputs"], row["targets"]), "meta": meta}
    return row


def line_for(line: str, fmt: str) -> str:
    """One JSONL line of `symtune data` in the JSONL format `fmt`."""
    if fmt == "messages":
        return json.dumps(to_messages(json.loads(line)), ensure_ascii=False)
    return line


def _table(rows: list[dict]):
    from datasets import Dataset

    # meta holds nested, row-dependent fields: JSON text keeps one column type for every row
    return Dataset.from_dict({"prompt": [r["prompt"] for r in rows], "completion": [r["completion"] for r in rows],
                              "meta": [json.dumps(r.get("meta", {}), ensure_ascii=False, sort_keys=True)
                                       for r in rows]})


def write_table(rows: list[dict], out: Path, fmt: str) -> None:
    """Write rows as a Parquet file or a save_to_disk folder, atomically."""
    from symtune.provenance import atomic_folder, write_bytes_atomic

    ds = _table(rows)
    if fmt == "parquet":
        buf = io.BytesIO()
        ds.to_parquet(buf)
        write_bytes_atomic(out, buf.getvalue())
    elif fmt == "hf-dataset":
        from symtune import ownership

        ownership.check_replaceable(out)  # the folder is replaced whole: only if all of it is symtune's
        with atomic_folder(out) as tmp:
            with ownership.recording(tmp):
                ds.save_to_disk(str(tmp))
    else:  # pragma: no cover - guarded by check_format
        raise ValueError(fmt)


def is_table(p: Path) -> bool:
    """A Parquet file (by its magic bytes, whatever its name) or a save_to_disk folder."""
    if p.is_dir():
        return (p / "dataset_info.json").is_file() or (p / "state.json").is_file()
    if p.is_file():
        with open(p, "rb") as fh:
            return fh.read(4) == b"PAR1"
    return False


def read_table(p: Path) -> list[dict]:
    """Rows of a Parquet file or save_to_disk folder, normalized to prompt/completion rows."""
    import datasets

    try:
        ds = datasets.load_from_disk(str(p)) if p.is_dir() else datasets.Dataset.from_parquet(str(p))
    except Exception as e:  # damaged or foreign files: the library's message, in one line
        raise SymtuneError(f"data {p}: cannot read it as a dataset ({str(e).splitlines()[0]}); "
                           "rebuild it with `symtune data`") from None
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise SymtuneError(f"data {p} holds splits {', '.join(ds)} but no 'train' split; save one split")
        ds = ds["train"]
    return [normalize(dict(r)) for r in ds]


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise SymtuneError(f"option 'format' must be one of {', '.join(FORMATS)}, got {fmt!r}")
