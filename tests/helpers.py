"""Builders shared by test modules (one home: tests import helpers from here, never from each other)."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from symtune.config import from_dict
from symtune.eval.config import EvalConfig
from symtune.run_config import RunConfig
from symtune.tasks.base import Example, Task
from symtune.train.config import TrainConfig
from symtune.train.data import IGNORE

SUMMARY = {"instr+labels": 0.653409, "labels": 0.590909, "instr+symbols": 0.5625, "symbols": 0.511364,
           "flipped": 0.479167, "chance": {"labels": 0.45, "flipped": 0.45}, "metric": "acc"}

def build_tiny_model(tokenizer_dir, out, hidden_size: int = 32, seed: int = 0) -> str:
    """A tiny randomly initialised Llama (2 layers) with the tokenizer of `tokenizer_dir`, saved to `out`.
    Same arguments, same weights (the invariants pin outputs of the default one)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(cfg).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return str(out)


WORDS = ["river", "stone", "cloud", "apple", "train", "paper", "glass", "music", "tiger", "lemon", "chair",
         "ocean", "pencil", "window", "garden", "silver", "rocket", "candle", "forest", "button"]


def texts(n: int, tag: str) -> list[str]:
    return [f"{tag} {WORDS[i % len(WORDS)]} {WORDS[(i * 7 + 3) % len(WORDS)]} number {i}" for i in range(n)]


def write_csv(path: Path, rows: list[tuple], header=("text", "label")) -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def two_class_csv(path: Path, n: int = 24) -> str:
    rows = [(t, "yes") for t in texts(n, "good")] + [(t, "no") for t in texts(n, "bad")]
    return write_csv(path, rows)


def write_jsonl(path, rows: list[dict]) -> str:
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def train_rows(n: int = 8) -> list[dict]:
    """Rows in the `symtune data` format (prompt ends at 'Output:', completion ' SYMBOL')."""
    out = []
    for i in range(n):
        sym = ["QXB", "7342"][i % 2]
        prompt = f"Input: {WORDS[i]} one\nOutput: QXB\n\nInput: {WORDS[i + 1]} two\nOutput: 7342\n\n" \
                 f"Input: query {WORDS[i + 2]}\nOutput:"
        out.append({"prompt": prompt, "completion": " " + sym})
    return out


def dead_pid() -> int:
    """The pid of a process that has exited (for stale-temporary-file tests)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture()
def readonly_dir(tmp_path):
    """A folder this process cannot create files in (chmod 555; as root, chattr +i), or skip."""
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o555)
    immutable = False
    try:
        probe = d / "probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:  # root ignores permission bits: fall back to the immutable attribute
            probe.unlink()
            if subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode != 0:
                pytest.skip("cannot make a read-only folder here (root without chattr)")
            immutable = True
        yield d
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(d)], capture_output=True)
        os.chmod(d, 0o755)


def tree(path: Path) -> dict:
    """{relative path: bytes} of every file under path (to show nothing was touched)."""
    path = Path(path)
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def push_run_folder(tmp_path):
    """A finished run folder: the report fixture plus a LoRA adapter in train/ and a report."""
    out = tmp_path / "run"
    write_train_meta(out / "train")
    write_results(out / "eval_tuned")
    (out / "run.json").write_text("{}")
    (out / "train" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    (out / "train" / "adapter_model.safetensors").write_bytes(b"weights")
    (out / "train" / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    (out / "train" / "checkpoints" / "checkpoint-2" / "optimizer.pt").write_bytes(b"x")
    (out / "report").mkdir()
    (out / "report" / "report.html").write_text("<html></html>")
    return out


def tiny_cfg(model, **kw):
    """A tiny study; keyword args are dotted field names (train__steps=3 -> train.steps)."""
    from symtune.config import unflatten

    base = {"model": model, "seed": 1, "cache": False,
            "data": dict(n_prompts=12, min_exemplars=1, max_exemplars=2, max_length=256,
                         tasks=["multiemo_pn", "fever"]),
            "train": dict(steps=2, batch_size=2, lr=1e-3, dtype="float32"),
            "eval": dict(suite="icl", tasks=["snips_weather_music", "tweets_pn"], k=1, limit=3, dtype="float32",
                         batch_size=4)}
    over = unflatten({k.replace("__", "."): v for k, v in kw.items()})
    for k, v in over.items():
        if isinstance(v, dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return from_dict(RunConfig, base)


def tb_scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = sorted(folder.rglob("events.out.tfevents.*"))
    assert events, f"no TensorBoard event files under {folder}"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def write_results(folder):
    """An evaluation folder holding a results.json with the fields the card reads."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps({"config": {"suite": "all", "split": "test"},
                                                     "summary": SUMMARY}))
    return folder


def write_train_meta(out, **cfg):
    """A symtune_train.json as the trainer writes it (the fields the card reads)."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {"status": "complete", "config": {"model": "smollm2-135m", "method": "lora", "lora_r": 16, "lr": 2e-4,
                                             "steps": 300, "batch_size": 8, "loss": "label", "seed": 0, **cfg},
            "data": {"sha256": "ab" * 32, "kept": 120}, "steps_done": 300, "final_loss_mean10": 0.41,
            "provenance": {"versions": {"torch": "2.x", "peft": "0.x"}}}
    (out / "symtune_train.json").write_text(json.dumps(meta))
    return out


def eval_cfg(model, **kw):
    """A small evaluation in fp32: `auto` would pick bf16 on a CPU with native bf16, and these tests compare
    log-probs to 1e-5 (and must mean the same on every machine class)."""
    base = dict(model=model, suite="icl", tasks=["irony"], settings=["labels", "symbols"], limit=6, k=2,
                batch_size=3, chunk_size=4, threads=1, progress=False, dtype="float32")
    base.update(kw)
    return EvalConfig(**base)


def error_lines(capsys):
    """The CLI's error lines (library progress bars/warnings on stderr are ignored)."""
    return [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]


def lora_adapter(base_dir, out_dir, b_value=0.0):
    """A LoRA adapter; b_value != 0 fills its B matrices, so applying it changes the model's outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(base_dir)
    torch.manual_seed(0)  # lora_A is drawn here: the adapter must not depend on which tests ran before
    pm = get_peft_model(m, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    if b_value:
        randomize_lora_b(pm, b_value, seed=1)
    pm.save_pretrained(out_dir)
    return str(out_dir)


def randomize_lora_b(pm, scale: float, seed: int) -> None:
    """Fill a peft model's LoRA B matrices (zero at init) with seeded noise, so the adapter acts."""
    import torch

    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p) * scale)


def adapter_copy(adapter, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of an adapter folder to alter: (folder, its weights file, its config file)."""
    import shutil

    a = tmp_path / "adapter"
    shutil.copytree(adapter, a)
    return a, a / "adapter_model.safetensors", a / "adapter_config.json"


def adapter_argv(verb: str, adapter, model_dir, tmp_path: Path) -> tuple[list[str], Path]:
    """The command line applying `adapter`: a 2-query `eval` on a two-class file, or `merge`; and its --out."""
    out = tmp_path / "o"
    if verb == "eval":
        return (["eval", "--model", str(model_dir), "--adapter", str(adapter), "--task-file",
                 two_class_csv(tmp_path / "t.csv"), "--k", "1", "--limit", "2", "--no-progress", "--out", str(out)], out)
    return ["merge", str(adapter), "--model", str(model_dir), "--out", str(out)], out


def tiny_adapter(model_dir, folder: Path) -> Path:
    """A LoRA adapter trained one step on train_rows(4) (for tests that damage or alter one)."""
    from symtune.train.trainer import run_training

    data = write_jsonl(folder / "rows.jsonl", train_rows(4))
    run_training(TrainConfig(model=model_dir, data=data, out=str(folder / "a"), steps=1, batch_size=2,
                             warmup_steps=0, save_every=0, max_length=256), quiet=True)
    return folder / "a"


def make_task(name="toy", n_cls=2, per_class=30, pair=False, long=False):
    rng = random.Random(name)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()

    def loader(split):
        out = []
        for c in range(n_cls):
            for i in range(per_class):
                text = " ".join(rng.choice(words) for _ in range(60 if long else 6)) + f" {split} {c} {i}"
                out.append(Example(text, c, text_pair=("second " + str(i)) if pair else None))
        return out

    return Task(name=name, role="tune", task_type="toy", labels=[f"label{c}" for c in range(n_cls)],
                instruction="Classify the text.", pair=pair, loader=loader)


def hand_row(shots, query_sym, symbols=("QXB", "7342")):
    """A hand-built row in the `symtune data` format: shots = list of (text, class)."""
    prompt, spans = "", []
    for text, c in shots:
        prompt += f"Input: {text}\nOutput: "
        spans.append({"start": len(prompt), "end": len(prompt) + len(symbols[c]), "class": c})
        prompt += symbols[c] + "\n\n"
    prompt += "Input: final query\nOutput:"
    return {"prompt": prompt, "completion": " " + symbols[query_sym],
            "meta": {"symbols": list(symbols), "exemplar_labels": spans, "query_class": query_sym}}


def sym_rows(n, seed=0):
    rng = random.Random(seed)
    words = ["good movie", "bad film", "great plot", "awful acting", "nice one", "boring story"]
    pools = [("QXB", "foo"), ("7342", "ZAP"), ("bar", "88"), ("KLM", "sun")]
    out = []
    for _ in range(n):
        shots = [(rng.choice(words), rng.randrange(2)) for _ in range(rng.randrange(2, 6))]
        out.append(hand_row(shots, rng.randrange(2), rng.choice(pools)))
    return out


def train_cfg(model, data, out, **kw):
    """A short training in fp32 (not `auto`: these tests compare weights to 1e-6 on every machine class)."""
    base = dict(model=model, data=data, out=str(out), steps=2, batch_size=2, warmup_steps=0, save_every=0,
                max_length=256, dtype="float32")
    base.update(kw)
    return TrainConfig(**base)


def supervised_text(tok, enc):
    runs, cur = [], []
    for i, lab in enumerate(enc.labels):
        if lab != IGNORE:
            assert lab == enc.input_ids[i]
            cur.append(lab)
        elif cur:
            runs.append(tok.decode(cur))
            cur = []
    if cur:
        runs.append(tok.decode(cur))
    return runs


def first_log(out):
    return json.loads((Path(out) / "log.jsonl").read_text().splitlines()[0])
