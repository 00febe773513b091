"""Build symbol-tuning rows (paper §3.1).

    symtune data --out runs/data.jsonl --n-prompts 1000 --seed 0 --preview 2

Each row: a task drawn by examples-proportional mixing (capped), 2-10 exemplars per class
(shuffled), one query that is not an exemplar, every class remapped to a distinct symbol from
the training pool (fresh per prompt), no instruction, a template drawn per prompt. With
`class_subsets`, a symbol prompt of a task with n > 2 classes shows a random 2..n of them, renumbered
0..k-1 in the row's meta (`classes` holds their original ids); natural-label prompts keep every class,
since their instruction may name them all. A task with its own `classes_per_prompt` range (the `sources`
task) shows a random lo..hi of its classes in every prompt, natural ones included. Rows are
independent: row i uses random.Random((seed, i)), so the file is the same for any worker count.
"""

from __future__ import annotations

import collections
import json
import multiprocessing as mp
import random
from dataclasses import dataclass

from symtune.chat import ChatWrap
from symtune.data.config import DataConfig
from symtune.errors import SymtuneError
from symtune.prompting.fit import NoFit, fewest_drops
from symtune.prompting.sampling import draw_row_examples
from symtune.prompting.symbols import SymbolPool, symbol_family
from symtune.prompting.templates import TEMPLATES, completion, drop_order, get_template, render
from symtune.tasks.base import Task


class _TooLong(Exception):
    def __init__(self, task: str, needed: int):
        super().__init__(task)
        self.task, self.needed = task, needed


@dataclass
class _TaskData:
    task: Task
    groups: list  # per class: list of example indices into examples
    examples: list
    weight: int


class RowBuilder:
    """Builds row i deterministically from (cfg.seed, i)."""

    def __init__(self, cfg: DataConfig, tasks: list[Task], tokenizer):
        if cfg.min_exemplars < 1 or cfg.max_exemplars < cfg.min_exemplars:
            raise SymtuneError(f"exemplars per class must satisfy 1 <= min_exemplars ({cfg.min_exemplars}) <= max_exemplars ({cfg.max_exemplars})")
        if not 0.0 <= cfg.symbol_fraction <= 1.0:
            raise SymtuneError(f"symbol_fraction must be in [0, 1], got {cfg.symbol_fraction}")
        if not tasks:
            raise SymtuneError("no tuning tasks selected; pass --tasks or use the default mixture")
        self.cfg = cfg
        self.tok = tokenizer
        self.templates = [get_template(t) for t in cfg.templates] if cfg.templates else list(TEMPLATES)
        self.pool = SymbolPool("train", tuple(cfg.symbol_families), cfg.symbol_pool_size)
        self.chat = ChatWrap(tokenizer, cfg.model) if cfg.chat_template else None
        self.data: list[_TaskData] = []
        for task in tasks:
            exs = task.examples(task.exemplar_split)
            groups = [[] for _ in task.labels]
            for j, ex in enumerate(exs):
                groups[ex.label].append(j)
            for c, g in enumerate(groups):
                need = cfg.min_exemplars + 1
                if len(g) < need:
                    raise SymtuneError(
                        f"task {task.name}: class '{task.labels[c]}' has {len(g)} examples in split "
                        f"'{task.exemplar_split}' but a prompt needs {need} ({cfg.min_exemplars} exemplars + a query); "
                        "lower --min-exemplars or drop the task")
            self.data.append(_TaskData(task, groups, exs, min(len(exs), cfg.task_cap)))
        self.cum_weights = []
        total = 0
        for d in self.data:
            total += d.weight
            self.cum_weights.append(total)
        # Token counts of every example, batch-encoded once (before any worker forks).
        self._raw = getattr(tokenizer, "backend_tokenizer", None)
        self._ex_ntok: list[list[int]] = []
        for d in self.data:
            texts = [ex.text for ex in d.examples]
            pairs = [ex.text_pair or "" for ex in d.examples]
            counts = self._batch_ntok(texts)
            if any(ex.text_pair is not None for ex in d.examples):
                counts = [a + b for a, b in zip(counts, self._batch_ntok(pairs))]
            self._ex_ntok.append(counts)
        self._piece = {}
        for fmt in self.templates:
            self._piece[fmt.id] = (self._ntok(fmt.input_prefix), self._ntok(fmt.label_sep + fmt.label_prefix),
                                   self._ntok(fmt.example_sep), self._ntok(fmt.pair_sep))

    # -- token counting ------------------------------------------------------------------
    def _ntok(self, text: str) -> int:
        return len(self.tok.encode(text, add_special_tokens=False)) if text else 0

    def _batch_ntok(self, texts: list[str]) -> list[int]:
        if self._raw is not None:
            return [len(e.ids) for e in self._raw.encode_batch(texts, add_special_tokens=False)]
        return [self._ntok(t) for t in texts]

    def _ex_tokens(self, ti: int, j: int) -> int:
        return self._ex_ntok[ti][j]

    def encode(self, text: str) -> list[int]:
        # The Rust tokenizer directly: the transformers wrapper adds ~10% per call here.
        if self._raw is not None:
            return self._raw.encode(text, add_special_tokens=True).ids
        return self.tok(text, add_special_tokens=True)["input_ids"]

    def encode_tail(self, text: str) -> list[int]:
        if self._raw is not None:
            return self._raw.encode(text, add_special_tokens=False).ids
        return self.tok(text, add_special_tokens=False)["input_ids"]

    # -- one row ---------------------------------------------------------------------------
    def row(self, i: int, attempts: int = 20) -> dict:
        """Row i; when even one exemplar per class does not fit max_length (a draw of unusually long
        texts), draw again from the same row RNG, and fail only if no draw fits."""
        cfg = self.cfg
        row_seed = f"{cfg.seed}:{i}"
        rng = random.Random(f"symtune-data:{row_seed}")
        for attempt in range(attempts):
            try:
                row = self._draw(i, rng, row_seed)
            except _TooLong as e:
                err = e
                continue
            row["meta"]["redraws"] = attempt
            return row
        raise SymtuneError(
            f"--max-length {cfg.max_length} is too small for one exemplar per class of task {err.task} "
            f"(row {i} needs at least {err.needed} tokens in {attempts} draws); raise --max-length")

    def _draw(self, i: int, rng: random.Random, row_seed: str) -> dict:
        """One row, as named steps; every step draws from `rng` in a fixed order (the pinned bytes)."""
        cfg = self.cfg
        ti = rng.choices(range(len(self.data)), cum_weights=self.cum_weights)[0]
        d = self.data[ti]
        task = d.task
        mode, in_share = self._draw_mode(rng)
        fmt = self.templates[rng.randrange(len(self.templates))]
        classes = self._draw_classes(task, mode, rng)
        n_cls = len(classes)
        if n_cls >= cfg.max_length:  # each exemplar takes a token at least: never fits, so draw nothing
            raise _TooLong(task.name, n_cls)
        symbols = [task.labels[c] for c in classes] if mode == "natural" else \
            self.pool.sample(n_cls, rng, self.tok, cfg.max_symbol_tokens)
        q_cls, query_j, exemplars = draw_row_examples([d.groups[k] for k in classes], cfg.min_exemplars,
                                                       cfg.max_exemplars, rng)
        shown = [symbols[rng.randrange(n_cls)] if mode == "random" else symbols[c] for j, c in exemplars]
        fit = self._fit(ti, fmt, mode, exemplars, shown, symbols, q_cls, query_j)
        n_prompt = self._check_prefix(i, task, fmt, fit)
        exemplars = fit["exemplars"]
        per_class = collections.Counter(c for j, c in exemplars)
        shift, full_ids = fit["shift"], fit["full_ids"]
        return {
            "prompt": fit["prompt"],
            "completion": fit["completion"],
            "meta": {
                "task": task.name,
                "template": fmt.id,
                "label_mode": mode,
                "instruction": mode == "natural",
                "symbols": symbols,
                "labels": [task.labels[c] for c in classes],
                "n_exemplars": len(exemplars),
                "exemplars_per_class": [per_class.get(c, 0) for c in range(n_cls)],
                "exemplar_labels": [{"start": shift + s, "end": shift + e, "class": c}
                                    for (s, e), (j, c) in zip(fit["rendered"].label_spans, exemplars)],
                "query_class": q_cls,
                "n_tokens": len(full_ids),
                "completion_tokens": len(full_ids) - n_prompt,
                "shortened": fit["dropped"] > 0,
                "dropped_exemplars": fit["dropped"],
                "seed": row_seed,
                **({"classes": classes} if cfg.class_subsets or task.classes_per_prompt else {}),
                **({"chat_template": True} if self.chat else {}),
                **({"natural_share": in_share} if cfg.symbol_fraction < 1.0 else {}),
            },
        }

    def _draw_mode(self, rng: random.Random) -> tuple[str, bool]:
        """The row's label mode, and whether it is in the natural share."""
        cfg = self.cfg
        if cfg.label_mode == "natural":
            # the natural-labels control keeps the recipe's natural share (same draw), so a trainer that
            # anchors that share (natural_loss kl) still trains the control's other rows on their labels
            return "natural", cfg.symbol_fraction < 1.0 and rng.random() >= cfg.symbol_fraction
        mode = cfg.label_mode if rng.random() < cfg.symbol_fraction else "natural"
        return mode, mode == "natural"

    def _draw_classes(self, task, mode: str, rng: random.Random) -> list[int]:
        """The task's classes this row shows (original ids; row class c is classes[c])."""
        n_cls = task.num_classes
        classes = list(range(n_cls))
        if task.classes_per_prompt:  # the task's own range, in every mode (its instruction names no class)
            lo, hi = task.classes_per_prompt
            return sorted(rng.sample(classes, rng.randint(min(lo, n_cls), min(hi, n_cls))))
        if self.cfg.class_subsets and mode != "natural" and n_cls > 2:
            # only when on: the RNG stream (and so every row) is unchanged when off
            return sorted(rng.sample(classes, rng.randint(2, n_cls)))
        return classes

    def _fit(self, ti: int, fmt, mode: str, exemplars: list, shown: list, symbols: list, q_cls: int,
             query_j: int) -> dict:
        """Render within max_length by the one fitting routine (prompting.fit.fewest_drops): the drops a
        cheap estimate from cached per-example token counts already needs are skipped, then the exact
        encoding of prompt + completion decides."""
        cfg = self.cfg
        d = self.data[ti]
        task = d.task
        pin, plab, psep, ppair = self._piece[fmt.id]
        label_tok = {s: len(self.pool.token_ids(s, self.tok)) for s in set(symbols)}
        instr_tok = self._ntok(task.instruction) + 2 if mode == "natural" else 0

        def cost(k):
            return pin + self._ex_tokens(ti, exemplars[k][0]) + plab + label_tok[shown[k]] + psep

        estimate = instr_tok + pin + self._ex_tokens(ti, query_j) + plab + label_tok[symbols[q_cls]]
        estimate += self.chat.overhead if self.chat else 0
        estimate += sum(cost(k) for k in range(len(exemplars)))
        classes = [c for _, c in exemplars]
        start = 0
        for k in drop_order(classes):
            if estimate <= cfg.max_length:
                break
            estimate -= cost(k)
            start += 1
        instruction = task.instruction if mode == "natural" else None
        comp = completion(symbols[q_cls])

        def fits(kept: list[int]):
            rendered = render(fmt, [(d.examples[exemplars[k][0]], shown[k]) for k in kept], d.examples[query_j],
                              instruction)
            prompt, shift = rendered.prompt, 0
            if self.chat:  # served as one user turn; the label is the assistant's answer
                prompt, shift = self.chat.prompt(prompt), len(self.chat.head)
            full_ids = self.encode(prompt + comp)
            return len(full_ids) <= cfg.max_length, (prompt, shift, rendered, full_ids)

        try:
            dropped, kept, (prompt, shift, rendered, full_ids) = fewest_drops(classes, fits, start)
        except NoFit as e:
            raise _TooLong(task.name, len(e.result[3])) from None
        return {"prompt": prompt, "completion": comp, "shift": shift, "rendered": rendered, "full_ids": full_ids,
                "exemplars": [exemplars[k] for k in kept], "dropped": dropped}

    def _check_prefix(self, i: int, task, fmt, fit: dict) -> int:
        """The prompt's token count, after checking its tokens are a prefix of prompt+completion's where
        the completion meets the prompt: the query block alone, with and without the completion. Text
        before the query block ends in example_sep, so its tokens cannot merge with the completion
        (tested against a whole-prompt encode in the tests)."""
        rendered, full_ids = fit["rendered"], fit["full_ids"]
        query_start = fit["shift"] + (rendered.prompt.rfind(fmt.example_sep) + len(fmt.example_sep)
                                      if fit["exemplars"] else 0)
        tail = fit["prompt"][query_start:]
        tail_ids = self.encode_tail(tail)
        tail_full = self.encode_tail(tail + fit["completion"])
        n_prompt = len(full_ids) - (len(tail_full) - len(tail_ids))
        if tail_full[: len(tail_ids)] != tail_ids or full_ids[n_prompt:] != tail_full[len(tail_ids):]:
            raise SymtuneError(
                f"row {i} (task {task.name}, template {fmt.id}): the prompt's tokens are not a prefix of "
                f"prompt+completion's tokens for this tokenizer; choose other templates (--templates)")
        return n_prompt


# -- parallel building (fork: workers inherit the builder) -------------------------------------
_WORKER: RowBuilder | None = None


def _work_line(i: int) -> tuple[str, dict]:
    row = _WORKER.row(i)  # type: ignore[union-attr]
    return json.dumps(row, ensure_ascii=False), row["meta"]


def _default_sigterm() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # workers die quietly when the pool is terminated


def _pool_map(builder: RowBuilder, n: int, workers: int, fn):
    global _WORKER
    _WORKER = builder
    ctx = mp.get_context("fork")
    try:
        with ctx.Pool(workers, initializer=_default_sigterm) as pool:
            yield from pool.imap(fn, range(n), chunksize=256)
    finally:
        _WORKER = None


def iter_lines(builder: RowBuilder, n: int, workers: int = 1):
    """(JSON line, meta) for rows 0..n-1; workers serialise, so the writer process stays light."""
    if workers <= 1 or n < 200:
        for i in range(n):
            row = builder.row(i)
            yield json.dumps(row, ensure_ascii=False), row["meta"]
        return
    yield from _pool_map(builder, n, workers, _work_line)


class Stats:
    def __init__(self):
        self.n = 0
        self.tasks = collections.Counter()
        self.modes = collections.Counter()
        self.families = collections.Counter()
        self.templates = collections.Counter()
        self.exemplars_per_class = collections.Counter()
        self.classes_per_prompt = collections.Counter()
        self.shortened = 0
        self.tokens_sum = 0
        self.tokens_max = 0

    def add_meta(self, m: dict) -> None:
        self.n += 1
        self.tasks[m["task"]] += 1
        self.modes[m["label_mode"]] += 1
        self.templates[m["template"]] += 1
        if m["label_mode"] != "natural":
            for s in m["symbols"]:
                self.families[symbol_family(s)] += 1
        for k in m["exemplars_per_class"]:
            self.exemplars_per_class[k] += 1
        self.classes_per_prompt[len(m["exemplars_per_class"])] += 1
        self.shortened += int(m["shortened"])
        self.tokens_sum += m["n_tokens"]
        self.tokens_max = max(self.tokens_max, m["n_tokens"])

    def as_dict(self) -> dict:
        return {
            "n_prompts": self.n,
            "tasks": dict(sorted(self.tasks.items())),
            "label_modes": dict(sorted(self.modes.items())),
            "symbol_families": dict(sorted(self.families.items())),
            "templates": {str(k): v for k, v in sorted(self.templates.items())},
            "exemplars_per_class": {str(k): v for k, v in sorted(self.exemplars_per_class.items())},
            "classes_per_prompt": {str(k): v for k, v in sorted(self.classes_per_prompt.items())},
            "shortened_prompts": self.shortened,
            "tokens_mean": round(self.tokens_sum / max(self.n, 1), 1),
            "tokens_max": self.tokens_max,
        }
