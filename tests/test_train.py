"""Trainer tests on the tiny random Llama (real SmolLM2 tokenizer): masks, loss, GA, resume, outputs, errors."""

import json
from pathlib import Path

import pytest

from symtune.errors import SymtuneError
from symtune.train.data import IGNORE, Collator, encode_row, encode_rows, load_rows
from helpers import hand_row as _row, sym_rows as _rows, write_jsonl as _write, train_cfg as _cfg, first_log as _first_log, supervised_text as _supervised_text


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from symtune.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


@pytest.fixture()
def data8(tmp_path):
    return _write(tmp_path / "rows.jsonl", _rows(8))


# ---------------------------------------------------------------- tokenization and masks


def test_label_mask_is_completion_only(tok):
    row = _row([("a", 0), ("b", 1), ("c", 0)], 1)
    enc = encode_row(tok, row, loss="label")
    assert _supervised_text(tok, enc) == [" 7342"]
    p_len = len(tok(row["prompt"])["input_ids"])
    assert all(x == IGNORE for x in enc.labels[:p_len]) and enc.n_completion == len(enc.input_ids) - p_len


def test_dense_mask_skips_first_occurrence_of_each_class(tok):
    # classes 0,1,0,1,1: the first QXB and the first 7342 are not predictable; the other three are.
    row = _row([("a", 0), ("b", 1), ("c", 0), ("d", 1), ("e", 1)], 0)
    enc = encode_row(tok, row, loss="dense")
    assert _supervised_text(tok, enc) == [" QXB", " 7342", " 7342", " QXB"]
    label = encode_row(tok, row, loss="label")
    assert enc.input_ids == label.input_ids and enc.n_dense == len(tok(" QXB")["input_ids"]) + 2 * len(tok(" 7342")["input_ids"])
    # eos option: appended and supervised
    enc_eos = encode_row(tok, row, loss="label", add_eos=True)
    assert enc_eos.input_ids[-1] == tok.eos_token_id and enc_eos.labels[-1] == tok.eos_token_id


def test_dense_needs_exemplar_spans(tok):
    row = _row([("a", 0)], 0)
    del row["meta"]["exemplar_labels"]
    with pytest.raises(SymtuneError, match="exemplar_labels"):
        encode_row(tok, row, loss="dense")


def test_prompt_not_prefix_is_an_error(tok):
    row = {"prompt": "Input: x\nOutput: ", "completion": "QXB"}  # trailing space merges with the label
    with pytest.raises(SymtuneError, match="not a prefix"):
        encode_row(tok, row, where="f.jsonl:3")


def test_overlong_drop_and_error(tok):
    rows = [dict(r, _line=i + 1) for i, r in enumerate(_rows(6))]
    lens = sorted(len(encode_row(tok, r).input_ids) for r in rows)
    limit = lens[2]
    items, stats = encode_rows(tok, rows, loss="label", add_eos=False, max_length=limit, overlong="drop",
                               source="x.jsonl")
    assert stats.dropped_overlong == sum(n > limit for n in lens) and len(items) == 6 - stats.dropped_overlong
    with pytest.raises(SymtuneError, match="longer than max_length"):
        encode_rows(tok, rows, loss="label", add_eos=False, max_length=limit, overlong="error", source="x.jsonl")
    with pytest.raises(SymtuneError, match="all 6 rows"):
        encode_rows(tok, rows, loss="label", add_eos=False, max_length=3, overlong="drop", source="x.jsonl")


def test_load_rows_errors(tmp_path):
    with pytest.raises(SymtuneError, match="does not exist"):
        load_rows(str(tmp_path / "nope.jsonl"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(SymtuneError, match="no rows"):
        load_rows(str(tmp_path / "empty.jsonl"))
    (tmp_path / "bad.jsonl").write_text('{"prompt": "x"}\n')
    with pytest.raises(SymtuneError, match=r"bad.jsonl:1: .*'completion'"):
        load_rows(str(tmp_path / "bad.jsonl"))
    (tmp_path / "emptyc.jsonl").write_text('{"prompt": "x", "completion": ""}\n')
    with pytest.raises(SymtuneError, match="empty completion"):
        load_rows(str(tmp_path / "emptyc.jsonl"))


# ---------------------------------------------------------------- loss

def test_sliced_loss_equals_full_logits_loss_padded_and_packed(tiny_model_dir, tok, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, TrainingArguments

    from symtune.train.loss import SymtuneTrainer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    rows = _rows(3, seed=1)
    feats = [{"input_ids": e.input_ids, "labels": e.labels}
             for e in (encode_row(tok, r, loss="dense") for r in rows)]
    batch = Collator(tok.pad_token_id)(feats)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = SymtuneTrainer(model=model, args=args)
    model.eval()
    with torch.no_grad():
        ours = trainer.compute_loss(model, batch)
        ref = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        packed = trainer.compute_loss(model, Collator(tok.pad_token_id, packing=True)(feats))
        n = int(batch["shift_labels"].ne(-100).sum())
        by_count = trainer.compute_loss(model, batch, num_items_in_batch=torch.tensor(2 * n))
    assert torch.allclose(ours, ref, atol=1e-5)
    assert torch.allclose(packed, ref, atol=1e-4)
    assert torch.allclose(by_count, ref / 2, atol=1e-5)


# ---------------------------------------------------------------- training runs

def _adapter_state(out):
    from safetensors.torch import load_file

    return load_file(str(Path(out) / "adapter_model.safetensors"))


def test_grad_accum_equivalence(tiny_model_dir, data8, tmp_path):
    import torch

    from symtune.train import run_training

    common = dict(steps=1, lora_dropout=0.0, lr=1e-3, max_grad_norm=0.0, loss="dense")
    run_training(_cfg(tiny_model_dir, data8, tmp_path / "big", batch_size=8, grad_accum=1, **common), quiet=True)
    run_training(_cfg(tiny_model_dir, data8, tmp_path / "acc", batch_size=2, grad_accum=4, **common), quiet=True)
    a, b = _first_log(tmp_path / "big"), _first_log(tmp_path / "acc")
    assert a["supervised_tokens"] == b["supervised_tokens"]
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
    sa, sb = _adapter_state(tmp_path / "big"), _adapter_state(tmp_path / "acc")
    for k in sa:
        assert torch.allclose(sa[k], sb[k], atol=1e-6), k  # fp32 (train_cfg): bf16 would round past this


def test_lora_outputs_reload_without_symtune(tiny_model_dir, data8, tmp_path):
    import torch
    from peft import AutoPeftModelForCausalLM

    from symtune.train import run_training

    out = tmp_path / "lora"
    meta = run_training(_cfg(tiny_model_dir, data8, out, steps=3, lr=1e-3, eval_every=2, eval_rows=2), quiet=True)
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "symtune_train.json",
                 "log.jsonl", "loss.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "symtune_train.json").read_text())
    assert saved["status"] == "complete" and saved["steps_done"] == 3 and saved["final_loss"] is not None
    assert saved["config"]["lr"] == 1e-3 and saved["provenance"]["versions"]["torch"]
    assert meta["eval_loss"] is not None and meta["data"]["kept"] == 6  # 2 rows held out
    rows = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert all(r["tokens_per_s"] > 0 and r["supervised_tokens"] > 0 for r in steps)
    assert any("eval_loss" in r for r in rows)
    card = (out / "README.md").read_text()  # ours, written after PEFT's placeholder card
    assert "library_name: peft" in card and "symbol-tuning" in card and "| steps | `3` |" in card
    model = AutoPeftModelForCausalLM.from_pretrained(str(out))
    lora_b = {k: v for k, v in model.state_dict().items() if "lora_B" in k}
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b.values())  # initialised to 0, trained since
    with torch.no_grad():
        model(input_ids=torch.tensor([[1, 2, 3]]))


def test_full_method_and_merge(tiny_model_dir, data8, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from symtune.cli import main
    from symtune.train import run_training

    out = tmp_path / "full"
    run_training(_cfg(tiny_model_dir, data8, out, method="full", lr=1e-3), quiet=True)
    tuned = AutoModelForCausalLM.from_pretrained(str(out))
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    diff = [k for k, v in tuned.state_dict().items() if not torch.equal(v, base.state_dict()[k])]
    assert diff

    lora = tmp_path / "lora"
    run_training(_cfg(tiny_model_dir, data8, lora, lr=1e-2), quiet=True)
    merged = tmp_path / "merged"
    assert main(["merge", str(lora), "--out", str(merged)]) == 0
    from peft import AutoPeftModelForCausalLM

    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        a = AutoModelForCausalLM.from_pretrained(str(merged))(input_ids=ids).logits
        b = AutoPeftModelForCausalLM.from_pretrained(str(lora)).eval()(input_ids=ids).logits
        c = base(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-4) and not torch.allclose(a, c, atol=1e-4)
    assert main(["merge", str(lora), "--out", str(merged)]) == 2  # not empty: refused


class _Kill(Exception):
    pass


def _stop_after(n):
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step >= n:
                raise _Kill(f"simulated kill after step {state.global_step}")

    return StopAfter()


def test_resume_reaches_the_same_weights(tiny_model_dir, data8, tmp_path):
    import shutil

    import torch

    from symtune.train import run_training

    # 8 rows, batch 2: 4 steps per epoch, so the kill (step 5) and the resume cross an epoch boundary.
    kw = dict(steps=8, lr=1e-3, save_every=5, lora_dropout=0.1)
    run_training(_cfg(tiny_model_dir, data8, tmp_path / "ref", **kw), quiet=True)
    out = tmp_path / "run"
    with pytest.raises(_Kill):
        run_training(_cfg(tiny_model_dir, data8, out, **kw), extra_callbacks=[_stop_after(5)], quiet=True)
    assert not (out / "adapter_model.safetensors").exists()
    # a checkpoint left half-written by a kill during saving must not be picked
    shutil.copytree(out / "checkpoints" / "checkpoint-5", out / "checkpoints" / "checkpoint-7")
    (out / "checkpoints" / "checkpoint-7" / "symtune_complete.json").unlink()
    (out / "checkpoints" / "checkpoint-7" / "optimizer.pt").write_bytes(b"trunc")
    # the same command resumes (issue 13 item 11: the Ctrl-C message says so); --resume is optional
    meta = run_training(_cfg(tiny_model_dir, data8, out, **kw), quiet=True)
    assert meta["resumed_from"].endswith("checkpoint-5") and meta["steps_done"] == 8
    ref, got = _adapter_state(tmp_path / "ref"), _adapter_state(out)
    for k in ref:
        assert torch.allclose(ref[k], got[k], atol=1e-6), k
    steps = [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))
    # a different config is refused, naming the key, and nothing is touched
    before = (out / "symtune_train.json").read_text()
    with pytest.raises(SymtuneError, match=r"different config \(lr: 0.001 -> 0.002"):
        run_training(_cfg(tiny_model_dir, data8, out, resume=True, **dict(kw, lr=2e-3)), quiet=True)
    assert (out / "symtune_train.json").read_text() == before


# ---------------------------------------------------------------- CLI and bad input

def test_cli_errors_exit_2(tiny_model_dir, data8, tmp_path, capsys):
    from symtune.cli import main

    base = ["train", "--model", tiny_model_dir, "--steps", "1"]
    assert main(base + ["--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(base + ["--data", data8, "--out", str(tmp_path / "o"), "--accelerate-config", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown accelerate config 'nope'" in err and "cpu-ddp" in err
    assert main(base + ["--data", data8, "--out", str(tmp_path / "o"), "--method", "adapter"]) == 2
    assert main(base + ["--data", data8, "--out", str(tmp_path / "o"), "--max-length", "5",
                        "--overlong", "error"]) == 2
    assert "longer than max_length" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    assert main(base + ["--data", data8, "--out", str(tmp_path / "busy")]) == 2
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["keep.txt"]


def test_cli_yaml_config_and_overrides(tiny_model_dir, data8, tmp_path):
    from symtune.cli import build_parser
    from symtune.commands.train import resolve

    y = tmp_path / "c.yaml"
    y.write_text(f"model: {tiny_model_dir}\ndata: {data8}\nsteps: 7\nlora_r: 4\n")
    args = build_parser().parse_args(["train", "--config", str(y), "--steps", "3", "--out", "x",
                                      "--target-modules", "q_proj,v_proj"])
    cfg = resolve(args)
    assert (cfg.steps, cfg.lora_r, cfg.target_modules, cfg.resolved_lr) == (3, 4, ["q_proj", "v_proj"], 2e-4)
    y.write_text("stepz: 3\n")
    with pytest.raises(SymtuneError, match="unknown key"):
        resolve(build_parser().parse_args(["train", "--config", str(y)]))


def test_accelerate_configs_ship_and_resolve(tmp_path):
    import yaml

    from symtune.runtime import resolve_accelerate_config, shipped_configs

    assert set(shipped_configs()) >= {"cpu-ddp", "multi-gpu", "fsdp", "deepspeed-zero2"}
    for name in shipped_configs():
        data = yaml.safe_load(resolve_accelerate_config(name).read_text())
        assert data["distributed_type"] and data["num_processes"] >= 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("foo: 1\n")
    with pytest.raises(SymtuneError, match="not an accelerate YAML"):
        resolve_accelerate_config(str(bad))


def test_killed_before_first_checkpoint_restarts_but_other_runs_are_kept(tmp_path, data8):
    from symtune.config import to_dict
    from symtune.train.trainer import check_out_dir, file_sha

    out = tmp_path / "o"
    out.mkdir()
    cfg = _cfg("m", data8, out)
    meta = {"status": "running", "config": to_dict(cfg), "data": {"sha256": file_sha(data8)}}
    (out / "symtune_train.json").write_text(json.dumps(meta))
    assert check_out_dir(cfg, to_dict(cfg), file_sha(data8))["status"] == "running"  # same config: restart
    other = _cfg("m", data8, out, steps=9)
    with pytest.raises(SymtuneError, match="already holds a training run"):
        check_out_dir(other, to_dict(other), file_sha(data8))
    meta["status"] = "complete"
    (out / "symtune_train.json").write_text(json.dumps(meta))
    assert check_out_dir(cfg, to_dict(cfg), file_sha(data8))["status"] == "complete"  # kept: nothing to do
    with pytest.raises(SymtuneError, match="already holds a training run"):
        check_out_dir(other, to_dict(other), file_sha(data8))
