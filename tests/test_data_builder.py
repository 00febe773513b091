"""The symbol-tuning data builder on in-memory tasks (no registry needed)."""

import json

import pytest

from symtune.data.build import RowBuilder, iter_lines
from symtune.data.config import DataConfig
from symtune.errors import SymtuneError
from symtune.tasks.base import Example
from helpers import make_task


@pytest.fixture(scope="module")
def tok(bundled_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_model_dir)


def build(tok, tasks, n=60, **kw):
    cfg = DataConfig(n_prompts=n, **kw)
    return RowBuilder(cfg, tasks, tok), cfg


def test_rows_follow_the_paper_recipe(tok):
    b, cfg = build(tok, [make_task("a", 2), make_task("b", 3, pair=True)], max_length=2048)
    for i in range(60):
        row = b.row(i)
        m = row["meta"]
        n_cls = len(m["symbols"])
        assert len(set(m["symbols"])) == n_cls
        assert all(2 <= k <= 10 for k in m["exemplars_per_class"])
        assert row["completion"] == " " + m["symbols"][m["query_class"]]
        assert "Classify" not in row["prompt"]  # no instruction in symbol prompts
        for span in m["exemplar_labels"]:
            assert row["prompt"][span["start"]:span["end"]] == m["symbols"][span["class"]]
        assert not any(lbl in m["symbols"] for lbl in ("label0", "label1"))
        full = tok(row["prompt"] + row["completion"])["input_ids"]
        assert len(full) == m["n_tokens"] <= cfg.max_length


def test_query_is_not_an_exemplar(tok):
    b, _ = build(tok, [make_task("a", 2, per_class=4)], max_length=4096)
    for i in range(40):
        row = b.row(i)
        q = row["prompt"].rsplit(b.templates[0].example_sep, 1)[-1]
        blocks = row["prompt"].split("\n\n")[:-1]
        assert all(not blk.startswith(q) for blk in blocks)


def test_deterministic_and_worker_independent(tok, tmp_path):
    from symtune.data.run import build_dataset

    cfg = DataConfig(n_prompts=300, seed=5, max_length=1024)
    import symtune.data.run as run_mod

    tasks = [make_task("a", 2), make_task("b", 3)]
    orig = run_mod.resolve_tasks
    run_mod.resolve_tasks = lambda c: tasks
    try:
        build_dataset(cfg, tmp_path / "one.jsonl", tokenizer=tok, progress=False)
        cfg2 = DataConfig(n_prompts=300, seed=5, max_length=1024, workers=2)
        build_dataset(cfg2, tmp_path / "two.jsonl", tokenizer=tok, progress=False)
        cfg3 = DataConfig(n_prompts=300, seed=6, max_length=1024)
        build_dataset(cfg3, tmp_path / "three.jsonl", tokenizer=tok, progress=False)
    finally:
        run_mod.resolve_tasks = orig
    one = (tmp_path / "one.jsonl").read_bytes()
    assert one == (tmp_path / "two.jsonl").read_bytes()
    assert one != (tmp_path / "three.jsonl").read_bytes()
    stats = json.loads((tmp_path / "one.stats.json").read_text())
    assert stats["stats"]["n_prompts"] == 300 and stats["config"]["seed"] == 5
    assert stats["provenance"]["versions"]["torch"]


def test_shortening_keeps_one_per_class(tok):
    b, cfg = build(tok, [make_task("long", 3, long=True)], max_length=600)
    rows = [b.row(i) for i in range(30)]
    assert any(r["meta"]["shortened"] for r in rows)
    for r in rows:
        assert r["meta"]["n_tokens"] <= 600
        assert all(k >= 1 for k in r["meta"]["exemplars_per_class"])
    b, _ = build(tok, [make_task("long", 3, long=True)], max_length=200)
    with pytest.raises(SymtuneError, match="max-length"):
        b.row(0)


def test_mixing_modes(tok):
    b, _ = build(tok, [make_task("a", 2)], symbol_fraction=0.5, max_length=2048)
    modes = [b.row(i)["meta"]["label_mode"] for i in range(100)]
    assert 25 < modes.count("natural") < 75
    nat = next(b.row(i) for i in range(100) if b.row(i)["meta"]["label_mode"] == "natural")
    assert nat["prompt"].startswith("Classify the text.") and nat["meta"]["symbols"] == ["label0", "label1"]
    b, _ = build(tok, [make_task("a", 2)], label_mode="random", max_length=2048)
    inconsistent = 0
    for i in range(50):
        m = b.row(i)["meta"]
        # random mode: shown labels are drawn independently of the exemplar's class
        inconsistent += any(b.row(i)["prompt"][s["start"]:s["end"]] != m["symbols"][s["class"]]
                            for s in m["exemplar_labels"])
    assert inconsistent > 40


def test_symbol_options(tok):
    b, _ = build(tok, [make_task("a", 2)], symbol_families=["word"], max_symbol_tokens=1, templates=[0, 8],
                 max_length=2048)
    for i in range(30):
        r = b.row(i)
        assert all(s.isalpha() and s.islower() for s in r["meta"]["symbols"])
        assert all(len(tok.encode(" " + s, add_special_tokens=False)) == 1 for s in r["meta"]["symbols"])
        assert r["meta"]["template"] in (0, 8)


def test_bad_inputs(tok):
    with pytest.raises(SymtuneError, match="has 3 examples"):
        build(tok, [make_task("tiny", 2, per_class=3)], min_exemplars=4)
    with pytest.raises(SymtuneError, match="min_exemplars"):
        build(tok, [make_task("a", 2)], min_exemplars=5, max_exemplars=3)
    with pytest.raises(SymtuneError):
        build(tok, [])


def test_iter_lines_same_output_for_any_worker_count(tok):
    b, _ = build(tok, [make_task("a", 2)], max_length=2048)
    serial = [line for line, _ in iter_lines(b, 250, workers=1)]
    parallel = [line for line, _ in iter_lines(b, 250, workers=2)]
    assert serial == parallel and [json.loads(x)["meta"]["seed"] for x in serial] == [f"0:{i}" for i in range(250)]


def test_tail_prefix_check_matches_whole_prompt_encoding(tok):
    """The builder checks the prefix property on the query block; check it against full encodes."""
    b, _ = build(tok, [make_task("a", 2), make_task("b", 3, pair=True)], max_length=2048, symbol_fraction=0.5)
    for i in range(80):
        row = b.row(i)
        p = tok(row["prompt"])["input_ids"]
        f = tok(row["prompt"] + row["completion"])["input_ids"]
        assert f[: len(p)] == p
        assert len(f) - len(p) == row["meta"]["completion_tokens"]


def test_mixed_families_with_a_token_cap_and_the_eval_pool(tok):
    """[int, letters, word] with max_symbol_tokens 4: every symbol within the cap, all three families in
    the tuning rows (none starved by the cap), and the evaluation's symbol prompts mix the same families."""
    from collections import Counter

    from symtune.data.build import Stats
    from symtune.eval.config import EvalConfig
    from symtune.eval.scoring import Encoder
    from symtune.prompting.fit import Budget
    from symtune.eval.suites import icl_items

    b, _ = build(tok, [make_task("a", 3)], symbol_families=["int", "letters", "word"], max_symbol_tokens=4,
                 max_length=2048)
    stats = Stats()
    for i in range(60):
        m = b.row(i)["meta"]
        stats.add_meta(m)
        assert all(len(tok.encode(" " + s, add_special_tokens=False)) <= 4 for s in m["symbols"])
    fam = stats.as_dict()["symbol_families"]
    assert set(fam) == {"int", "letters", "word"} and min(fam.values()) >= 40, fam  # 180 symbols, ~60 each
    task = make_task("ev", 3)
    task.role, task.exemplar_split, task.query_split = "eval", "train", "validation"
    items = icl_items(task, EvalConfig(limit=30, settings=["symbols"]), tok, Budget(Encoder(tok), 4096))
    eval_fam = Counter(f for it in items for f in it.meta["families"])
    assert set(eval_fam) == {"int", "letters", "word"} and min(eval_fam.values()) >= 15, eval_fam


def _orig_class(before: str) -> int:
    """The original class of the last example text in `before` (make_task's texts end "train <class> <i>")."""
    import re

    return int(re.findall(r"train (\d+) \d+", before)[-1])


def test_class_subsets(tok):
    """class_subsets: a symbol prompt of an n-class task shows 2..n classes, renumbered 0..k-1 (meta.classes
    gives the original ids), every exemplar and the query from those classes; natural prompts keep all."""
    b, _ = build(tok, [make_task("five", 5)], class_subsets=True, symbol_fraction=0.7, max_length=4096)
    sizes = set()
    for i in range(80):
        row = b.row(i)
        m = row["meta"]
        if m["label_mode"] == "natural":
            assert m["classes"] == [0, 1, 2, 3, 4] and m["symbols"] == [f"label{c}" for c in range(5)]
            continue
        k = len(m["classes"])
        sizes.add(k)
        assert 2 <= k <= 5 and m["classes"] == sorted(set(m["classes"]))
        assert len(m["symbols"]) == len(m["exemplars_per_class"]) == k
        assert m["labels"] == [f"label{c}" for c in m["classes"]]
        assert 0 <= m["query_class"] < k and row["completion"] == " " + m["symbols"][m["query_class"]]
        assert all(n >= 1 for n in m["exemplars_per_class"])
        for span in m["exemplar_labels"]:
            assert row["prompt"][span["start"]:span["end"]] == m["symbols"][span["class"]]
            assert _orig_class(row["prompt"][:span["start"]]) == m["classes"][span["class"]]
        assert _orig_class(row["prompt"]) == m["classes"][m["query_class"]]
    assert sizes == {2, 3, 4, 5}


def test_class_subsets_off_leaves_rows_untouched_and_binary_tasks_whole(tok):
    tasks = [make_task("a", 2), make_task("b", 4)]
    off = [build(tok, tasks, max_length=2048)[0].row(i) for i in range(20)]
    assert all("classes" not in r["meta"] for r in off)
    on = [build(tok, tasks, max_length=2048, class_subsets=True)[0].row(i) for i in range(20)]
    for a, b in zip(off, on):
        if a["meta"]["task"] == "a":  # binary: nothing to subset, so the same row
            b = dict(b, meta={k: v for k, v in b["meta"].items() if k != "classes"})
            assert a == b
    assert any(len(r["meta"]["classes"]) < 4 for r in on if r["meta"]["task"] == "b")


def test_task_classes_per_prompt_subsets_every_mode(tok):
    """A task with its own classes_per_prompt (lo, hi) shows lo..hi of its classes in symbol and natural
    prompts alike (natural labels = those classes' names), without class_subsets; other tasks are untouched."""
    import dataclasses

    many = dataclasses.replace(make_task("many", 8), classes_per_prompt=(2, 5))
    b, _ = build(tok, [many], symbol_fraction=0.5, max_length=4096)
    sizes, modes = set(), set()
    for i in range(80):
        row = b.row(i)
        m = row["meta"]
        k = len(m["classes"])
        sizes.add(k)
        modes.add(m["label_mode"])
        assert 2 <= k <= 5 and len(m["symbols"]) == len(m["exemplars_per_class"]) == k
        if m["label_mode"] == "natural":
            assert m["symbols"] == m["labels"] == [f"label{c}" for c in m["classes"]]
        for span in m["exemplar_labels"]:
            assert _orig_class(row["prompt"][:span["start"]]) == m["classes"][span["class"]]
        assert _orig_class(row["prompt"]) == m["classes"][m["query_class"]]
    assert sizes == {2, 3, 4, 5} and modes == {"symbols", "natural"}


def test_sources_rows_come_from_tuning_splits_only(tok):
    """data.tasks [sources]: every exemplar and query text of a row is a text of the tuning split of the
    source its label names, and no text of any evaluation task appears in any row."""
    from symtune.data.run import make_builder
    from symtune.prompting.templates import get_template
    from symtune.tasks.registry import get_task, list_tasks

    cfg = DataConfig(tasks=["sources"], n_prompts=16, min_exemplars=1, max_exemplars=2, max_length=1024,
                     symbol_fraction=0.5)
    b = make_builder(cfg, tok)
    src = get_task("sources")
    texts = {e.text: e.label for e in src.examples(src.exemplar_split)}
    eval_texts = {e.text for t in list_tasks("eval") for sp in ("train", "validation") for e in t.examples(sp)}
    per_fmt = {}
    for i in range(16):
        row = b.row(i)
        m, prompt = row["meta"], row["prompt"]
        fmt = get_template(m["template"])
        assert m["task"] == "sources" and 2 <= len(m["classes"]) <= 5
        if fmt.id not in per_fmt:
            per_fmt[fmt.id] = ({t: fmt.example_prefix(Example(t, 0)) for t in texts},
                               [fmt.example_prefix(Example(t, 0)) for t in eval_texts])
        blocks, eval_blocks = per_fmt[fmt.id]
        shown = [t for t, blk in blocks.items() if blk in prompt]  # whole exemplar/query blocks
        assert len(shown) == m["n_exemplars"] + 1
        assert not any(blk in prompt for blk in eval_blocks)
        for t in shown:  # its own source is a class of the row, shown with that class's label
            c = m["classes"].index(texts[t])
            assert blocks[t] + " " + m["symbols"][c] in prompt or prompt.endswith(blocks[t])
        assert [t for t in shown if prompt.endswith(blocks[t])] and row["completion"] == " " + m["symbols"][
            m["classes"].index(texts[next(t for t in shown if prompt.endswith(blocks[t]))])]
        if m["label_mode"] == "natural":
            assert m["symbols"] == [src.labels[c] for c in m["classes"]]


def test_natural_share_is_marked_and_kept_by_the_natural_labels_control(tok):
    """symbol_fraction < 1 marks each row's share (meta.natural_share); the natural-labels control draws the
    same share for the same seed, so a KL-anchored share stays anchored and only the rest learn labels."""
    from symtune.train.data import in_natural_share

    tasks = [make_task("a", 2), make_task("b", 3)]
    recipe = [build(tok, tasks, symbol_fraction=0.75, max_length=2048)[0].row(i) for i in range(60)]
    control = [build(tok, tasks, symbol_fraction=0.75, label_mode="natural", max_length=2048)[0].row(i)
               for i in range(60)]
    share = [r["meta"]["natural_share"] for r in recipe]
    assert share == [r["meta"]["label_mode"] == "natural" for r in recipe] and 5 < sum(share) < 30
    assert [r["meta"]["natural_share"] for r in control] == share
    assert all(r["meta"]["label_mode"] == "natural" for r in control)
    assert [in_natural_share(r) for r in control] == share
    # symbol_fraction 1: no key (the rows of earlier versions, byte for byte); a natural row without it counts
    whole = build(tok, tasks, max_length=2048)[0].row(0)
    assert "natural_share" not in whole["meta"]
    assert in_natural_share({"meta": {"label_mode": "natural"}}) and not in_natural_share({"meta": {}})
