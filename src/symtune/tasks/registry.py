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

import csv
import functools
import gzip
import io
import json
import random
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from symtune.errors import SymtuneError
from symtune.tasks.base import Example, Task
from symtune.tasks.labels import canonical_label, class_order, normalise_labels

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
BUNDLED_YAML = HERE / "bundled.yaml"
PAPER_YAML = HERE / "paper.yaml"
SPLITS = ("train", "validation")
ROLES = ("tune", "eval")
_SPLIT_ALIASES = {"dev": "validation", "valid": "validation", "val": "validation", "validation": "validation",
                  "train": "train", "training": "train", "test": "test"}


# ------------------------------------------------------------------ bundled tasks
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


def _task_from_spec(spec: dict) -> Task:
    labels = [str(x) for x in spec["labels"]]
    return Task(
        name=spec["name"], role=spec["role"], task_type=spec["task_type"], labels=labels,
        instruction=spec["instruction"], exemplar_split=spec.get("exemplar_split", "train"),
        query_split=spec.get("query_split", "validation"), source=spec.get("source", ""),
        licence=spec.get("licence", ""), pair=bool(spec.get("pair", False)),
        description=_describe(spec), loader=_bundled_loader(spec["name"], spec["file"], labels))


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


# ------------------------------------------------------------------ user files
def _read_table(path: Path) -> tuple[list[dict], list[str]]:
    """Rows and column names of a CSV/TSV, JSONL/JSON or Parquet file (one-line errors)."""
    if path.is_dir():
        raise SymtuneError(f"data file {path} is a folder; pass the path of a CSV, JSONL or Parquet file")
    if not path.is_file():
        raise SymtuneError(f"data file {path} does not exist; pass the path of a CSV, JSONL or Parquet file")
    if path.stat().st_size == 0:
        raise SymtuneError(f"data file {path} is empty; it needs a header/columns and at least two classes of rows")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    suffix = suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises several types for bad files
            raise SymtuneError(f"data file {path} is not a readable Parquet file ({str(e).splitlines()[0]})") from None
        cols = list(table.column_names)
        return table.to_pylist(), cols
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SymtuneError(f"data file {path} is not UTF-8 (byte {e.start}); re-save it as UTF-8 "
                           "(e.g. iconv -f latin1 -t utf-8)") from None
    if not text.strip():
        raise SymtuneError(f"data file {path} is empty; it needs a header/columns and at least two classes of rows")
    if suffix in (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson"):
        stripped = text.lstrip()
        lineno = 0
        try:
            if stripped.startswith("["):
                rows = json.loads(stripped)
            else:
                rows = []
                for lineno, line in enumerate(text.splitlines(), 1):  # e.lineno counts within one line
                    if line.strip():
                        rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            # a JSON array: e.lineno counts from the first non-blank character
            line_no = lineno or e.lineno + text[: len(text) - len(stripped)].count("\n")
            raise SymtuneError(f"data file {path} is not valid JSON lines (line {line_no}: {e.msg})") from None
        if not all(isinstance(r, dict) for r in rows):
            raise SymtuneError(f"data file {path}: every JSON line must be an object of column: value")
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        return rows, cols
    if suffix in (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt"):
        delim = "\t" if "tsv" in suffix else ","
        reader = csv.DictReader(io.StringIO(text), delimiter=delim)
        rows = list(reader)
        return rows, list(reader.fieldnames or [])
    raise SymtuneError(f"data file {path}: unsupported extension '{suffix}'; use .csv, .tsv, .jsonl or .parquet")


def _label_order(values: list) -> list:
    uniq = list(dict.fromkeys(values))
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def stratified_split(labels: list[int], fraction: float, seed: int) -> list[str]:
    """'train'/'validation' per row: per class, a seeded `fraction` (at least 1 when a class has ≥ 2 rows)."""
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    out = ["train"] * len(labels)
    rng = random.Random(seed)
    for y in sorted(by_class):
        idx = by_class[y][:]
        rng.shuffle(idx)
        n_val = round(len(idx) * fraction)
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        for i in idx[:n_val]:
            out[i] = "validation"
    return out


def task_from_file(path: str | Path, text_col: str, label_col: str, text_pair_col: str | None = None,
                   name: str | None = None, role: str = "eval", instruction: str | None = None,
                   split_col: str | None = None, seed: int = 0, validation_fraction: float = 0.2,
                   labels: Sequence[str] | None = None, task_type: str = "classification") -> Task:
    """A Task from a CSV/TSV, JSONL or Parquet file.

    Without `split_col`, a seeded stratified split (validation_fraction) is made. Class order is the
    sorted label values unless `labels` gives the order (values not listed are dropped).
    """
    p = Path(path)
    rows, cols = _read_table(p)
    if not rows:
        raise SymtuneError(f"data file {p} has no rows; it needs examples of at least two classes")
    for what, col in (("text column", text_col), ("label column", label_col),
                      ("text pair column", text_pair_col), ("split column", split_col)):
        if col is not None and col not in cols:
            raise SymtuneError(f"data file {p}: {what} '{col}' not found; available columns: {', '.join(map(str, cols))}")
    if not 0.0 < validation_fraction < 1.0:
        raise SymtuneError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    # one canonical string per class (tasks/labels.py; docs/PROMISES.md); ambiguous labels are refused
    canon = normalise_labels([r.get(label_col) for r in rows], f"data file {p}, label column '{label_col}'")
    keep = [i for i, (r, c) in enumerate(zip(rows, canon))
            if c is not None and r.get(text_col) is not None and str(r[text_col]).strip()]
    if len(keep) < len(rows):
        kept_set = set(keep)
        first = next(i for i in range(len(rows)) if i not in kept_set) + 1
        print(f"symtune: note: data file {p}: dropped {len(rows) - len(keep)} rows with an empty "
              f"(or whitespace-only) text or label, the first at row {first}", file=sys.stderr)
    raw_values = [rows[i][label_col] for i in keep]
    rows, raw_labels = [rows[i] for i in keep], [canon[i] for i in keep]
    if labels is not None:
        class_values = [canonical_label(x, f"labels of {p}") for x in labels]
        kept = [i for i, v in enumerate(raw_labels) if v in class_values]
        rows, raw_labels = [rows[i] for i in kept], [raw_labels[i] for i in kept]
    else:
        class_values = class_order(raw_values, raw_labels)
    n_classes = len(set(raw_labels))
    if n_classes < 2:
        found = ", ".join(sorted(set(raw_labels))) or "none"
        raise SymtuneError(f"data file {p}: label column '{label_col}' has {n_classes} class ({found}); "
                           "a classification task needs at least two")
    index = {v: i for i, v in enumerate(class_values)}
    ys = [index[v] for v in raw_labels]
    if split_col:
        splits = []
        for r in rows:
            s = str(r.get(split_col, "")).strip().lower()
            splits.append(_SPLIT_ALIASES.get(s, s))
    else:
        splits = stratified_split(ys, validation_fraction, seed)
    by_split: dict[str, list[Example]] = {}
    for r, y, s in zip(rows, ys, splits):
        pair = r.get(text_pair_col) if text_pair_col else None
        by_split.setdefault(s, []).append(Example(str(r[text_col]), y, None if pair is None else str(pair)))
    task_name = name or p.name.split(".")[0]

    def load(split: str) -> list[Example]:
        if split not in by_split:
            raise SymtuneError(f"task {task_name}: no rows in split '{split}'; "
                               f"splits present: {', '.join(sorted(by_split))}")
        return by_split[split]

    return Task(name=task_name, role=role, task_type=task_type, labels=[str(v) for v in class_values],
                instruction=instruction or f"Classify the input as one of: {', '.join(map(str, class_values))}.",
                exemplar_split="train", query_split="validation", source=str(p), pair=text_pair_col is not None,
                description=f"user file {p}", loader=load)


# ------------------------------------------------------------------ Hugging Face datasets
def _join(row: dict, cols: str | Sequence[str] | None) -> str | None:
    if cols is None:
        return None
    if isinstance(cols, str):
        return str(row[cols])
    return "\n".join(str(row[c]) for c in cols)


def task_from_hf(dataset_id: str, config: str | None = None, text_col: str | Sequence[str] = "text",
                 label_col: str = "label", text_pair_col: str | Sequence[str] | None = None,
                 label_names: Sequence[str] | None = None, exemplar_split: str = "train",
                 query_split: str = "validation", name: str | None = None, role: str = "eval",
                 instruction: str | None = None, task_type: str = "classification",
                 label_values: Sequence[Any] | None = None, max_examples: int | None = None,
                 seed: int = 0, licence: str = "", description: str = "", **load_kwargs) -> Task:
    """A Task backed by `datasets.load_dataset(dataset_id, config, **load_kwargs)`.

    Labels: `label_names` (display names, class order) if given, else the ClassLabel names of
    `label_col`. `label_values` optionally lists the raw values (or ClassLabel names) in class order,
    for datasets whose values are not 0..n-1 (rows with other values, e.g. -1, are dropped).
    `text_col`/`text_pair_col` may be lists of columns, joined with newlines.
    With `label_names` given, nothing is loaded until examples are requested.
    """
    task_name = name or (dataset_id.rstrip("/").split("/")[-1] + (f"_{config}" if config else ""))
    state: dict = {}

    def dataset():
        if "ds" not in state:
            import datasets

            try:
                state["ds"] = datasets.load_dataset(dataset_id, config, **load_kwargs)
            except Exception as e:  # network, missing config, bad path: all one-line errors
                msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
                raise SymtuneError(f"cannot load dataset '{dataset_id}'"
                                   f"{f' (config {config})' if config else ''}: {msg}") from None
        return state["ds"]

    def class_names_of(split: str) -> list[str] | None:
        ds = dataset()
        if split not in ds:
            raise SymtuneError(f"dataset '{dataset_id}' has no split '{split}'; splits: {', '.join(ds)}")
        feat = ds[split].features.get(label_col)
        return list(feat.names) if hasattr(feat, "names") else None

    labels: list[str]
    if label_names is not None:
        labels = [str(x) for x in label_names]
    else:
        names = class_names_of(exemplar_split)
        if names is None:
            values = _label_order(dataset()[exemplar_split][label_col])
            values = [v for v in values if v not in (-1, None, "")]
            names = [str(v) for v in values]
            if label_values is None:
                label_values = values
        labels = names
    if len(labels) < 2:
        raise SymtuneError(f"dataset '{dataset_id}': label column '{label_col}' has fewer than two classes")

    def load(split: str) -> list[Example]:
        ds = dataset()
        if split not in ds:
            raise SymtuneError(f"dataset '{dataset_id}' has no split '{split}'; splits: {', '.join(ds)}")
        part = ds[split]
        cols = list(part.column_names)
        wanted = [c for c in ([text_col] if isinstance(text_col, str) else list(text_col))]
        if text_pair_col is not None:
            wanted += [text_pair_col] if isinstance(text_pair_col, str) else list(text_pair_col)
        for c in wanted + [label_col]:
            if c not in cols:
                raise SymtuneError(f"dataset '{dataset_id}' split '{split}': column '{c}' not found; "
                                   f"available columns: {', '.join(cols)}")
        feat = part.features.get(label_col)
        feat_names = list(feat.names) if hasattr(feat, "names") else None
        out: list[Example] = []
        for row in part:
            v = row[label_col]
            y: int | None = None
            if label_values is not None:
                vals = list(label_values)
                if v in vals:
                    y = vals.index(v)
                elif feat_names is not None and isinstance(v, int) and 0 <= v < len(feat_names) \
                        and feat_names[v] in vals:
                    y = vals.index(feat_names[v])
                elif str(v) in [str(x) for x in vals]:
                    y = [str(x) for x in vals].index(str(v))
            elif isinstance(v, bool):
                y = int(v)
            elif isinstance(v, int):
                y = v if 0 <= v < len(labels) else None
            elif isinstance(v, str):
                y = labels.index(v) if v in labels else None
            if y is None:
                continue
            out.append(Example(_join(row, text_col), y, _join(row, text_pair_col)))
        if max_examples is not None and len(out) > max_examples:
            rng = random.Random(f"{seed}-{task_name}-{split}")
            keep = sorted(rng.sample(range(len(out)), max_examples))
            out = [out[i] for i in keep]
        return out

    src = dataset_id + (f" ({config})" if config else "")
    return Task(name=task_name, role=role, task_type=task_type, labels=labels,
                instruction=instruction or f"Classify the input as one of: {', '.join(labels)}.",
                exemplar_split=exemplar_split, query_split=query_split, source=src, licence=licence,
                pair=text_pair_col is not None, description=description, loader=load)


# ------------------------------------------------------------------ task config files (paper.yaml, user YAML)
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
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
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


# ------------------------------------------------------------------ algorithmic data
ALGORITHMIC = ("list_functions", "simp_turing_concept")


def load_algorithmic(name: str) -> list[dict]:
    """Vendored BIG-bench algorithmic data.

    list_functions: 250 records {name: "c001", description, task_prefix, examples: [{input, target}] x 32}.
    simp_turing_concept: 2,130 records of additional_set_2 {subset, input (with predetermined shots),
    target, comment ("[program, n_instructions, ...]"), program, n_instructions}.
    """
    if name not in ALGORITHMIC:
        raise SymtuneError(f"unknown algorithmic task '{name}'; choose one of {', '.join(ALGORITHMIC)}")
    records = [dict(r) for r in _read_rows(f"{name}.jsonl.gz")]
    if name == "simp_turing_concept":
        import ast

        for r in records:
            prog, n_instr = ast.literal_eval(r["comment"])[:2]
            r["program"], r["n_instructions"] = prog, int(n_instr)
    return records
