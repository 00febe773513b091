"""Runner: build items -> score (resumable, data-parallel) -> samples_<suite>_<task>.jsonl + results.json.

Resume: samples are appended to DIR/samples_*.jsonl after every chunk (fsync'd). A restarted run
with the same configuration (hash of every result-relevant option, kept in DIR/eval_state.json)
reads the rows already there, keyed by (setting, doc_id), checks their prompt hashes and scores only
the missing ones. A different configuration is refused unless --force (which clears DIR's samples).
At the end the samples files are rewritten atomically in canonical order and results.json is
written atomically, so a resumed run ends with the same files as an uninterrupted one.

Data parallel: under `accelerate launch --num_processes N`, each chunk of pending prompts is
sharded by rank, rows are gathered to rank 0, and only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

from symtune.errors import SymtuneError
from symtune.eval.config import EvalConfig
from symtune.eval.metrics import aggregate
from symtune.eval.samples import GLOB, sample_row, samples_name
from symtune.eval.build import build_items
from symtune.eval.items import Item
from symtune.prompting.fit import Budget

STATE_FILE = "eval_state.json"
RESULTS_FILE = "results.json"


class Dist:
    """Rank/world size, this process's device and collectives; a no-op outside `accelerate launch`."""

    def __init__(self, device: str = "cpu"):
        self.state = None
        self.rank, self.world = 0, 1
        self.device = device
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import PartialState

            self.state = PartialState(cpu=device != "cuda")  # CPU: gloo; CUDA: nccl, one GPU per process
            self.rank, self.world = self.state.process_index, self.state.num_processes
            if device == "cuda":
                self.device = str(self.state.device)  # cuda:<local rank>

    @property
    def main(self) -> bool:
        return self.rank == 0

    def gather(self, obj) -> list:
        if self.world == 1:
            return [obj]
        from accelerate.utils import gather_object

        return gather_object([obj])

    def barrier(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()


def config_hash(cfg: EvalConfig) -> str:
    """Hash of the result-relevant options with device and dtype resolved (so `auto` on two machine classes
    that resolve differently never gives the same hash)."""
    from symtune.config import hashed
    from symtune.hardware import resolve_config
    from symtune.provenance import stable_hash

    return stable_hash(hashed(resolve_config(cfg, "eval")[0]))


def check_inputs(cfg: EvalConfig, produced=()) -> str:
    """Validate options and paths before anything is loaded or written; returns the model path.

    `produced`: paths an earlier stage of `symtune run` will write (the adapter, a fully tuned model);
    everything about them but their existence is checked."""
    from symtune.models import resolve_model

    produced = {str(x) for x in produced}
    if cfg.processes is not None and cfg.processes < 1:
        raise SymtuneError(f"--processes must be at least 1 (got {cfg.processes})")
    for name in ("k", "limit", "dev_limit", "batch_size", "chunk_size", "max_new_tokens"):
        if getattr(cfg, name) < 1:
            raise SymtuneError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if cfg.max_length is not None and cfg.max_length < 8:
        raise SymtuneError(f"--max-length must be at least 8, got {cfg.max_length}")
    if cfg.suite in ("algorithmic",) and (cfg.tasks or cfg.task_file):
        raise SymtuneError("--tasks/--task-file do not apply to the algorithmic suite; use --suite icl, flipped or all")
    if cfg.threads is not None and cfg.threads < 0:
        raise SymtuneError(f"--threads must be at least 1 (or 0/unset for one per core), got {cfg.threads}")
    if cfg.adapter and str(cfg.adapter) not in produced:
        from symtune.adapters import check_adapter

        check_adapter(cfg.adapter)
    import math

    if not math.isfinite(cfg.adapter_scale) or cfg.adapter_scale < 0:
        raise SymtuneError(f"--adapter-scale must be a finite number >= 0 (0 = base model, 1 = as trained), "
                           f"got {cfg.adapter_scale}")
    if cfg.adapter_scale != 1.0 and not cfg.adapter:
        raise SymtuneError(f"--adapter-scale {cfg.adapter_scale:g} scales a LoRA adapter; pass --adapter DIR "
                           "(or leave the scale at 1)")
    return cfg.model if str(cfg.model) in produced else resolve_model(cfg.model)


def model_max_length(model_path: str, cfg: EvalConfig) -> int:
    from transformers import AutoConfig

    from symtune.models import from_pretrained

    mc = from_pretrained(AutoConfig, model_path, cfg.model, "config")
    tc = mc.get_text_config() if hasattr(mc, "get_text_config") else mc
    limit = getattr(tc, "max_position_embeddings", None) or 2048
    return min(limit, cfg.max_length) if cfg.max_length else limit


def prepare(cfg: EvalConfig, tokenizer=None):
    """(items, notes, tokenizer, encoder, max_length, model_path): everything before the model."""
    from symtune.eval.scoring import Encoder
    from symtune.models import load_tokenizer

    model_path = check_inputs(cfg)
    tok = tokenizer or load_tokenizer(model_path)
    max_len = model_max_length(model_path, cfg)
    encoder = Encoder(tok)
    chat = None
    if cfg.chat_template:
        from symtune.chat import ChatWrap

        chat = ChatWrap(tok, cfg.model)
    items, notes = build_items(cfg, tok, Budget(encoder, max_len, chat))
    return items, notes, tok, encoder, max_len, model_path


def check_out_folder(out: Path, cfg: EvalConfig, chash: str) -> bool:
    """Whether --force must clear `out` first; refuses (one line, nothing written) a folder holding another
    evaluation's files without --force. Also run before starting data-parallel processes."""
    if out.exists() and not out.is_dir():
        raise SymtuneError(f"--out {out} is a file; pass a folder")
    state, why = out / STATE_FILE, None
    if state.is_file():
        import json

        try:
            old = json.loads(state.read_text(encoding="utf-8")).get("config_hash")
        except (json.JSONDecodeError, OSError, AttributeError):
            old = None
        if old != chash:
            why = f"holds samples of a different eval configuration (hash {old} != {chash})"
    elif out.is_dir() and (list(out.glob(GLOB)) or (out / RESULTS_FILE).exists()):
        why = f"holds eval files without {STATE_FILE}"
    if why and not cfg.force:
        raise SymtuneError(f"--out {out} {why}; pass --force to overwrite them or choose another --out")
    return why is not None


def _prepare_out(out: Path, cfg: EvalConfig, chash: str, names: list[str]) -> None:
    """Check, clear (--force) and claim the output folder; `names` are the samples files it will hold."""
    from symtune import ownership
    from symtune.provenance import read_jsonl, write_json_atomic, write_jsonl_atomic

    state = out / STATE_FILE
    if check_out_folder(out, cfg, chash):
        _clear(out)
    ownership.claim(out, STATE_FILE, RESULTS_FILE, *names)  # a user's file of one of these names: refused
    write_json_atomic(state, {"config_hash": chash, "config": dataclasses.asdict(cfg)})
    # drop a truncated last line left by a killed writer, so appends start on a clean line
    for f in out.glob(GLOB):
        rows = read_jsonl(f)
        if f.read_text(encoding="utf-8").count("\n") != len(rows) or not f.read_text(encoding="utf-8").endswith("\n"):
            write_jsonl_atomic(f, rows)


def _clear(out: Path) -> None:
    """--force: remove the earlier evaluation's files; refused (nothing removed) if symtune did not write one."""
    from symtune import ownership

    ownership.remove(out, *[f.name for f in out.glob(GLOB)], RESULTS_FILE)


def _append_rows(out: Path, rows: list[dict]) -> None:
    import json

    by_file: dict = defaultdict(list)
    for r in rows:
        by_file[samples_name(r["suite"], r["task"])].append(r)
    from symtune.provenance import DISK_FULL, disk_full_error

    for name, rs in by_file.items():
        try:
            with open(out / name, "a", encoding="utf-8", newline="\n") as fh:
                for r in rs:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as e:
            if e.errno in DISK_FULL:  # a cut last line is dropped when the same command resumes
                raise disk_full_error(out / name, e, "the rows scored so far are kept") from None
            raise


def _refuse_non_finite(cfg: EvalConfig, rows: list[dict]) -> None:
    """A NaN/inf log-prob is no score: stop before it is stored or averaged into an accuracy."""
    import math

    for r in rows:
        if any(not math.isfinite(x) for x in (r.get("logprobs") or [])):
            what = f"model {cfg.model}" + (f" with adapter {cfg.adapter}" if cfg.adapter else "")
            hint = ("the adapter's training probably diverged; retrain it" if cfg.adapter
                    else "try --dtype float32, or check the model's weights")
            raise SymtuneError(f"{what} gives non-finite log-probs (e.g. {r['suite']}/{r['task']}/{r['setting']} "
                               f"query {r['doc_id']}: {r['logprobs']}); no results written: {hint}")


def score_items(scorer, items: list[Item], scoring: str, progress=None) -> list[dict]:
    """Rows for items (classification: rank [+ generate]; open-ended: generate)."""
    from symtune.eval.scoring import Request

    rows: list[dict | None] = [None] * len(items)
    cls = [i for i, it in enumerate(items) if not it.open_ended]
    opn = [i for i, it in enumerate(items) if it.open_ended]
    if cls:
        res = scorer.run([Request(items[i].prompt, items[i].continuations, items[i].max_new_tokens) for i in cls],
                         rank=True, generate=scoring == "generate", progress=progress)
        for i, sc in zip(cls, res):
            rows[i] = sample_row(items[i], sc)
    if opn:
        res = scorer.run([Request(items[i].prompt, [], items[i].max_new_tokens) for i in opn],
                         rank=False, generate=True, progress=progress)
        for i, sc in zip(opn, res):
            rows[i] = sample_row(items[i], sc)
    return rows  # type: ignore[return-value]


def run_eval(cfg: EvalConfig, out_dir: str | Path, on_chunk: Callable[[int], None] | None = None,
             log: Callable[[str], None] = print) -> dict | None:
    """Run the configured evaluation; returns the results dict on rank 0 (None on other ranks).

    The output folder is locked for the run: a second evaluation into it is refused with one line."""
    from symtune import ownership
    from symtune.paths import check_not_input, check_output

    out = check_output(out_dir, kind="folder", option="--out")
    check_not_input(out, [cfg.adapter, cfg.model if Path(cfg.model).is_dir() else None])
    with ownership.locked(out):
        return _run_eval(cfg, out, on_chunk, log)


def _run_eval(cfg: EvalConfig, out: Path, on_chunk, log) -> dict | None:
    """The evaluation, as named steps: items -> model -> what is already scored -> score the rest ->
    samples files and results.json (rank 0)."""
    from symtune.eval.scoring import Scorer, set_threads
    from symtune.hardware import announce, resolve_config
    from symtune.models import load_model

    t0 = time.perf_counter()
    if cfg.threads is not None and cfg.threads < 0:  # before torch sees it
        raise SymtuneError(f"--threads must be at least 1 (or 0/unset for one per core), got {cfg.threads}")
    cfg, hw = resolve_config(cfg, "eval")
    dist = Dist(hw.device)
    if dist.main:
        announce(hw, "eval")
    threads = set_threads(cfg.threads, dist.world) if hw.device == "cpu" else None  # CPU thread pools only
    items, notes, tok, encoder, max_len, model_path = prepare(cfg)
    keys = [(it.suite, it.task, it.setting, it.doc_id) for it in items]
    if len(set(keys)) != len(keys):  # pragma: no cover - a builder bug
        raise AssertionError("duplicate (suite, task, setting, doc_id) keys")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bar shows progress; keep stderr for errors
    model = load_model(model_path, cfg.dtype, cfg.adapter, adapter_scale=cfg.adapter_scale, device=dist.device)
    scorer = Scorer(model, tok, batch_size=cfg.batch_size, max_length=max_len)
    chash = config_hash(cfg)
    if dist.main:
        _prepare_out(out, cfg, chash, sorted({samples_name(it.suite, it.task) for it in items}))
    dist.barrier()
    done = _already_scored(out, dict(zip(keys, items)))
    pending = _pending(keys, items, done)
    if dist.main and done:
        log(f"resuming: {len(done)} of {len(items)} prompts already scored in {out}")
    t_score = time.perf_counter()
    _score(cfg, out, scorer, pending, dist, on_chunk)
    score_s = time.perf_counter() - t_score
    dist.barrier()
    if not dist.main:
        return None
    rows_by_file = _write_samples(out, keys)
    primary = "acc_gen" if cfg.scoring == "generate" else "acc"
    results, summary, categories = aggregate(rows_by_file, primary)
    from symtune.eval.curves import curves
    from symtune.eval.diagnostics import diagnostics
    from symtune.provenance import provenance, write_json_atomic

    doc = {
        "config": dataclasses.asdict(cfg),
        "config_hash": chash,
        "seeds": {"seed": cfg.seed, "derivation": "random.Random(f'{seed}|{suite}|{task}|{doc_id}') per query; "
                  "queries: random.Random(f'{seed}|queries|{task}')" + (
                      "; dev split: the same with 'dev|' after the seed" if cfg.split == "dev" else ""),
                  "split": cfg.split},
        "provenance": provenance(),
        "model": cfg.model,
        "model_path": model_path,
        "adapter": cfg.adapter,
        "adapter_scale": cfg.adapter_scale,
        "dtype": cfg.dtype,
        "device": hw.device,
        "hardware": hw.as_dict(),
        "batch_size": cfg.batch_size,
        "threads": threads,
        "world_size": dist.world,
        "scoring": {"mode": cfg.scoring, "primary_metric": primary, "method": scorer.method,
                    "acc_norm": "argmax of summed option log-prob / option token count",
                    "max_length": max_len, "add_bos": encoder.add_bos},
        "instruction_placement": "once at the top of the prompt, followed by a blank line",
        "notes": notes,
        "n_prompts": len(items),
        "n_scored_this_run": len(pending),
        "n_resumed": len(done),
        "seconds": {"total": round(time.perf_counter() - t0, 2), "scoring": round(score_s, 2)},
        "results": results,
        "summary": summary,
        "categories": categories,
        "diagnostics": diagnostics(rows_by_file, primary),
        "curves": curves(rows_by_file, primary),
    }
    write_json_atomic(out / RESULTS_FILE, doc)
    return doc


def _already_scored(out: Path, by_key: dict) -> dict:
    """key -> stored sample row of the prompts a killed run scored (each checked against its rebuilt prompt)."""
    from symtune.provenance import read_jsonl, text_hash

    done: dict = {}
    for f in sorted(out.glob(GLOB)):
        for r in read_jsonl(f):
            k = (r["suite"], r["task"], r["setting"], r["doc_id"])
            it = by_key.get(k)
            if it is None:
                continue
            if r["prompt_hash"] != text_hash(it.prompt):
                raise SymtuneError(f"{f.name}: the stored prompt of {r['setting']}/{r['doc_id']} differs from the "
                                   "rebuilt one (task data or symtune changed); pass --force to start over")
            done[k] = r
    return done


def _pending(keys: list, items: list[Item], done: dict) -> list[Item]:
    """The prompts left to score, in rounds: round r holds the r-th query of every (suite, setting, task),
    so a partial run has balanced partial results (within a chunk the scorer sorts by length)."""
    seen: dict = defaultdict(int)
    rounds = {}
    for k, it in zip(keys, items):
        rounds[k] = seen[(it.suite, it.setting, it.task, it.key)]
        seen[(it.suite, it.setting, it.task, it.key)] += 1
    pending = [it for k, it in zip(keys, items) if k not in done]
    pending.sort(key=lambda it: rounds[(it.suite, it.task, it.setting, it.doc_id)])
    return pending


def _score(cfg: EvalConfig, out: Path, scorer, pending: list[Item], dist: Dist, on_chunk) -> None:
    """Score chunk by chunk across the processes; rank 0 appends each chunk's rows (resumable)."""
    from tqdm.auto import tqdm

    from symtune.runtime import check_interrupted

    bar = tqdm(total=len(pending), unit="prompt", desc="eval", dynamic_ncols=True,
               disable=not (dist.main and cfg.progress), smoothing=0.1)
    step = cfg.chunk_size * dist.world
    n_chunks = 0
    for start in range(0, len(pending), step):
        check_interrupted()  # a signal whose exception was lost stops here, before another chunk is stored
        # deal the chunk out longest first: every rank gets a similar token count (less waiting at
        # the gather) and similar lengths land in the same batch (less padding)
        chunk = sorted(pending[start:start + step], key=lambda it: -it.n_tokens)
        rows = score_items(scorer, chunk[dist.rank::dist.world], cfg.scoring,
                           progress=lambda n: bar.update(n * dist.world))
        gathered = [r for part in dist.gather(rows) for r in part]
        _refuse_non_finite(cfg, gathered)  # every rank sees the same rows
        if dist.main:
            _append_rows(out, gathered)
        n_chunks += 1
        if on_chunk:
            on_chunk(n_chunks)
    bar.close()


def _write_samples(out: Path, keys: list) -> dict:
    """Rewrite each samples file in canonical (build) order, atomically; returns its rows per file."""
    from symtune.provenance import read_jsonl, write_jsonl_atomic

    stored: dict = {}
    for f in sorted(out.glob(GLOB)):
        for r in read_jsonl(f):
            stored[(r["suite"], r["task"], r["setting"], r["doc_id"])] = r
    missing = [k for k in keys if k not in stored]
    if missing:  # pragma: no cover - would be a runner bug
        raise AssertionError(f"{len(missing)} prompts have no stored sample, e.g. {missing[0]}")
    rows_by_file: dict = defaultdict(list)
    for k in keys:
        rows_by_file[(k[0], k[1])].append(stored[k])
    for (suite, task), rows in rows_by_file.items():
        write_jsonl_atomic(out / samples_name(suite, task), rows)
    return rows_by_file


def format_summary(doc: dict) -> str:
    s = doc["summary"]
    lines = [f"{'setting':<22}{s['metric']:>8}{'chance':>8}"]
    for k, v in s.items():
        if k in ("chance", "metric") or v is None:
            continue
        c = s["chance"].get(k)
        # open-ended suites (exact match) have no chance level: a dash, not a misleading 0.000
        lines.append(f"{k:<22}{v:>8.3f}" + (f"{c:>8.3f}" if c else f"{'-':>8}"))
    return "\n".join(lines)
