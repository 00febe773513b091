"""Dense loss only where the answer is determined (dense_min_seen) with a capped weight (dense_weight):
hand-built prompts, the tiny random Llama with the real SmolLM2 tokenizer."""

import pytest

from symtune.errors import SymtuneError
from symtune.train.data import IGNORE, Collator, encode_row
from helpers import train_cfg as _cfg, first_log as _first_log, hand_row as _row, sym_rows as _rows, supervised_text as _supervised_text, write_jsonl as _write

SYMS = ("QXB", "7342", "foo")


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from symtune.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


def test_min_seen_supervises_only_determined_labels(tok):
    # classes 0 0 1 0 1 2 0 1 (3 classes). All three are shown only after position 5, so with min_seen 1
    # positions 6 (class 0, seen 3x) and 7 (class 1, seen 2x) are supervised; with min_seen 2 as well,
    # and with min_seen 3 only position 6. The old rule takes every repeat: positions 1, 3, 4, 6, 7.
    shots = [("a", 0), ("b", 0), ("c", 1), ("d", 0), ("e", 1), ("f", 2), ("g", 0), ("h", 1)]
    row = _row(shots, 2, SYMS)
    assert _supervised_text(tok, encode_row(tok, row, loss="dense", dense_min_seen=1)) == [" QXB", " 7342", " foo"]
    assert _supervised_text(tok, encode_row(tok, row, loss="dense", dense_min_seen=3)) == [" QXB", " foo"]
    old = encode_row(tok, row, loss="dense")
    assert _supervised_text(tok, old) == [" QXB", " QXB", " 7342", " QXB", " 7342", " foo"]
    # a class shown twice but a class never shown before it: not determined
    row2 = _row([("a", 0), ("b", 0), ("c", 0), ("d", 1), ("e", 1)], 1, SYMS[:2])
    assert _supervised_text(tok, encode_row(tok, row2, loss="dense", dense_min_seen=1)) == [" 7342", " 7342"]
    assert _supervised_text(tok, encode_row(tok, row2, loss="dense", dense_min_seen=2)) == [" 7342"]
    # the query's class counts as a class of the prompt: class 2 is never shown, so nothing is determined
    row3 = _row([("a", 0), ("b", 1), ("c", 0), ("d", 1)], 2, SYMS)
    assert _supervised_text(tok, encode_row(tok, row3, loss="dense", dense_min_seen=1)) == [" foo"]


def test_min_seen_keeps_natural_rows_query_only(tok):
    row = _row([("a", 0), ("b", 1), ("c", 0), ("d", 1)], 0, ("negative", "positive"))
    row["meta"]["label_mode"] = "natural"
    assert _supervised_text(tok, encode_row(tok, row, loss="dense", dense_min_seen=1)) == [" negative"]
    row["meta"]["label_mode"] = "symbols"
    assert len(_supervised_text(tok, encode_row(tok, row, loss="dense", dense_min_seen=1))) == 3


def test_dense_weight_splits_each_row_between_query_and_exemplars(tok):
    row = _row([("a", 0), ("b", 1), ("c", 0), ("d", 1), ("e", 1)], 0, SYMS[:2])
    enc = encode_row(tok, row, loss="dense", dense_min_seen=1, dense_weight=0.4)
    sup = [i for i, y in enumerate(enc.labels) if y != IGNORE]
    comp = set(range(len(enc.input_ids) - enc.n_completion, len(enc.input_ids)))
    dense = [i for i in sup if i not in comp]
    assert dense and enc.n_dense == len(dense)
    assert sum(enc.weights) == pytest.approx(enc.n_completion)  # the row weighs what it does under loss label
    assert sum(enc.weights[i] for i in comp) == pytest.approx(0.6 * enc.n_completion)
    assert sum(enc.weights[i] for i in dense) == pytest.approx(0.4 * enc.n_completion)
    assert all(enc.weights[i] == 0 for i in range(len(enc.weights)) if i not in sup)
    # no determined position: the query keeps its whole weight
    alone = encode_row(tok, _row([("a", 0), ("b", 1)], 0, SYMS[:2]), loss="dense", dense_min_seen=1, dense_weight=0.4)
    assert alone.n_dense == 0 and [w for w in alone.weights if w] == [1.0] * alone.n_completion


def test_weighted_loss_is_the_weighted_mean_padded_packed_and_counted(tiny_model_dir, tok, tmp_path):
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, TrainingArguments

    from symtune.train.loss import SymtuneTrainer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    rows = [_row([("a", 0), ("b", 1), ("c", 0), ("d", 1)], 1, SYMS[:2]), _row([("x", 0), ("y", 1)], 0, SYMS[:2])]
    encs = [encode_row(tok, r, loss="dense", dense_min_seen=1, dense_weight=0.3) for r in rows]
    feats = [{"input_ids": e.input_ids, "labels": e.labels, "weights": e.weights} for e in encs]
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = SymtuneTrainer(model=model, args=args)
    model.eval()
    padded, packed = Collator(tok.pad_token_id, weighted=True)(feats), Collator(tok.pad_token_id, True, True)(feats)
    with torch.no_grad():
        ref_sum = 0.0
        for e in encs:  # per row, full logits
            logits = model(input_ids=torch.tensor([e.input_ids])).logits[0]
            for t in range(1, len(e.input_ids)):
                if e.labels[t] != IGNORE:
                    ref_sum += e.weights[t] * F.cross_entropy(logits[t - 1:t], torch.tensor([e.labels[t]])).item()
        n_comp = sum(e.n_completion for e in encs)
        counted = trainer._get_num_items_in_batch([padded], torch.device("cpu"))
        assert int(counted) == n_comp == int(padded["shift_query"].ne(-100).sum())
        for batch in (padded, packed):
            assert float(batch["shift_weight"].sum()) == pytest.approx(n_comp)
            assert trainer.compute_loss(model, batch).item() == pytest.approx(ref_sum / n_comp, rel=1e-4)
            assert trainer.compute_loss(model, batch, num_items_in_batch=counted).item() == pytest.approx(
                ref_sum / n_comp, rel=1e-4)


def test_dense_fields_train_and_are_checked(tiny_model_dir, tmp_path):
    from symtune.train import run_training

    data = _write(tmp_path / "rows.jsonl", _rows(8))
    run_training(_cfg(tiny_model_dir, data, tmp_path / "w", loss="dense", dense_min_seen=1, dense_weight=0.5),
                 quiet=True)
    assert _first_log(tmp_path / "w")["loss"] > 0
    for kw, msg in ((dict(dense_weight=0.5), "loss dense only"), (dict(loss="dense", dense_weight=1.0), r"\(0, 1\)"),
                    (dict(loss="dense", dense_min_seen=0), "at least 1")):
        with pytest.raises(SymtuneError, match=msg):
            run_training(_cfg(tiny_model_dir, data, tmp_path / "bad", **kw), quiet=True)


def test_unset_dense_fields_leave_every_hash_as_before():
    """dense_min_seen / dense_weight unset = the old loss, so they are left out of hashed(): run folders and
    caches from before they existed keep their stage hashes (they enter the hash once set)."""
    from symtune.config import hashed
    from symtune.train.config import TrainConfig

    assert not {"dense_min_seen", "dense_weight"} & set(hashed(TrainConfig()))
    assert hashed(TrainConfig(loss="dense", dense_weight=0.4))["dense_weight"] == 0.4
