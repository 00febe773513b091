"""Suites: deterministic prompts, the four ICL settings, flipped protocols, algorithmic prompts,
length handling and bad input. No model needed (tokenizer only)."""

import random

import pytest

from symtune.errors import SymtuneError
from symtune.eval.config import EvalConfig
from symtune.eval.scoring import Encoder
from symtune.eval.algorithmic_suites import LIST_FUNCTIONS_CATEGORIES, list_functions_items, simp_turing_items
from symtune.eval.build import build_items
from symtune.prompting.fit import Budget
from symtune.prompting.sampling import sample_queries
from symtune.eval.suites import flipped_items, icl_items
from symtune.prompting.templates import TEMPLATES
from symtune.tasks.base import Example, Task


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from symtune.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


@pytest.fixture(scope="module")
def budget(tok):
    return Budget(Encoder(tok), 2048)


def toy_task(n_per_class=(12, 12), n_query=(6, 4), name="toy", same_split=False):
    rng = random.Random(0)
    words = "apple river stone cloud quick slow bright dark happy sad tall short".split()
    data = {"train": [], "validation": []}
    for split, counts in (("train", n_per_class), ("validation", n_query)):
        for c, n in enumerate(counts):
            for i in range(n):
                data[split].append(Example(f"{split} {c} {i} " + " ".join(rng.choice(words) for _ in range(6)), c))
    labels = ["negative", "positive", "neutral"][: len(n_per_class)]
    return Task(name=name, role="eval", task_type="toy", labels=labels, instruction="Classify the sentiment.",
                query_split="train" if same_split else "validation", loader=lambda s: data[s])


def _label_after(prompt, text):
    """The label shown right after an exemplar's text (template-independent)."""
    rest = prompt.split(text, 1)[1]
    for fmt in TEMPLATES:
        head = fmt.label_sep + fmt.label_prefix + " "
        if rest.startswith(head):
            return rest[len(head):].split(fmt.example_sep, 1)[0]
    raise AssertionError("no label after exemplar")


def test_same_seed_same_prompts_byte_for_byte(tok, budget):
    cfg = EvalConfig(seed=3, limit=8)
    a = icl_items(toy_task(), cfg, tok, budget)
    b = icl_items(toy_task(), cfg, tok, budget)
    assert [i.prompt for i in a] == [i.prompt for i in b]
    assert [i.options for i in a] == [i.options for i in b]
    c = icl_items(toy_task(), EvalConfig(seed=4, limit=8), tok, budget)
    assert [i.prompt for i in a] != [i.prompt for i in c]
    # a query's prompts do not depend on which settings are requested
    only = icl_items(toy_task(), EvalConfig(seed=3, limit=8, settings=["symbols"]), tok, budget)
    assert [i.prompt for i in only] == [i.prompt for i in a if i.setting == "symbols"]


def test_four_settings_labels_and_instruction(tok, budget):
    from symtune.prompting.sampling import eval_symbol_pool

    task = toy_task()
    items = icl_items(task, EvalConfig(seed=0, limit=10, k=3), tok, budget)
    assert len(items) == 10 * 4
    eval_pool = set(eval_symbol_pool().all_symbols())
    from symtune.prompting.symbols import SymbolPool

    train_pool = set(SymbolPool("train").all_symbols())
    by_doc = {}
    for it in items:
        by_doc.setdefault(it.doc_id, {})[it.setting] = it
        has_instr = it.prompt.startswith("Classify the sentiment.\n\n")
        assert has_instr == it.setting.startswith("instr+")
        assert it.meta["instruction"] == has_instr
        if it.setting.endswith("labels"):
            assert it.options == task.labels
        else:
            assert len(set(it.options)) == 2 and all(o in eval_pool and o not in train_pool for o in it.options)
            assert not set(it.options) & set(task.labels)
        q = task.examples("validation")[it.doc_id]
        fmt = TEMPLATES[it.meta["template"]]
        assert it.gold == q.label
        assert it.prompt[it.prompt.rindex(q.text) + len(q.text):] == fmt.label_sep + fmt.label_prefix
        assert it.meta["n_exemplars"] == 3 * 2
    for doc, s in by_doc.items():
        assert set(s) == {"instr+labels", "labels", "instr+symbols", "symbols"}
        # same exemplars/template/order across settings; symbols consistent per class
        assert s["labels"].meta["template"] == s["symbols"].meta["template"]
        assert s["instr+symbols"].options == s["symbols"].options
        assert s["instr+labels"].prompt.endswith(s["labels"].prompt)
        for ex in task.examples("train"):
            if ex.text in s["labels"].prompt:
                assert ex.text in s["symbols"].prompt
                assert _label_after(s["labels"].prompt, ex.text) == task.labels[ex.label]
                assert _label_after(s["symbols"].prompt, ex.text) == s["symbols"].options[ex.label]


def test_k_per_class_and_query_never_an_exemplar(tok, budget):
    task = toy_task(n_per_class=(5, 5), same_split=True)
    items = icl_items(task, EvalConfig(seed=1, limit=10, k=4, settings=["labels"]), tok, budget)
    for it in items:
        q = task.examples("train")[it.doc_id]
        shown = [ex for ex in task.examples("train") if ex.text in it.prompt and ex is not q]
        assert sorted(ex.label for ex in shown) == [0] * 4 + [1] * 4
        assert it.prompt.count(q.text) == 1  # only as the query


def test_query_sampling_is_class_balanced():
    exs = [Example(str(i), 0) for i in range(90)] + [Example(str(i), 1) for i in range(10)]
    idx = sample_queries(exs, 2, 20, random.Random(0))
    assert len(idx) == 20 and sum(exs[i].label for i in idx) == 10
    idx = sample_queries(exs, 2, 50, random.Random(0))
    assert sum(exs[i].label for i in idx) == 10  # the small class is exhausted, the rest spills over
    assert sample_queries(exs[:5], 2, 50, random.Random(0)) == list(range(5))


def test_flipped_paper_protocol(tok, budget):
    task = toy_task()
    items = flipped_items(task, EvalConfig(seed=0, limit=10, k=3), tok, budget)
    for it in items:
        q = task.examples("validation")[it.doc_id]
        assert it.setting == "flipped" and it.options == task.labels
        assert it.gold == 1 - q.label
        assert it.meta["protocol"].startswith("paper") and not it.meta["instruction"]
        for ex in task.examples("train"):
            if ex.text in it.prompt:
                assert _label_after(it.prompt, ex.text) == task.labels[1 - ex.label]


def test_flipped_proportion_protocol(tok, budget):
    task = toy_task()
    items = flipped_items(task, EvalConfig(seed=0, limit=10, k=4, flip_proportion=0.25), tok, budget)
    for it in items:
        q = task.examples("validation")[it.doc_id]
        assert it.gold == q.label and it.meta["n_flipped"] == 2
        flipped = sum(_label_after(it.prompt, ex.text) != task.labels[ex.label]
                      for ex in task.examples("train") if ex.text in it.prompt)
        assert flipped == 2
    with pytest.raises(SymtuneError, match="binary"):
        flipped_items(toy_task(n_per_class=(6, 6, 6), n_query=(2, 2, 2)), EvalConfig(), tok, budget)


def test_list_functions_prompts(budget):
    items = list_functions_items(EvalConfig(seed=0, limit=5), budget)
    subtasks = {i.key for i in items}
    assert len(subtasks) == 20 and len(LIST_FUNCTIONS_CATEGORIES) == 5
    assert all(len(v) == 4 for v in LIST_FUNCTIONS_CATEGORIES.values())
    from symtune.tasks.registry import load_algorithmic

    recs = {r["name"]: r for r in load_algorithmic("list_functions")}
    it = items[0]
    q = recs[it.key]["examples"][it.meta["example"]]
    blocks = it.prompt.split("\n\n")
    assert len(blocks) == 5 and blocks[-1] == f"Input: {q['input']}\nOutput:"
    for b in blocks[:-1]:
        inp, out = b.split("\n")
        assert inp.startswith("Input: [") and out.startswith("Output: [")
        assert inp[len("Input: "):] != q["input"]  # the query is not one of its shots
    assert it.gold == q["target"] and it.open_ended and it.chance == 0.0


def test_simp_turing_concepts(budget):
    items = simp_turing_items(EvalConfig(limit=100), budget)
    assert len(items) == 85 and len({i.key for i in items}) == 17
    assert all(i.prompt.endswith("Output:") and i.meta["n_instructions"] <= 3 for i in items)
    from symtune.tasks.registry import load_algorithmic

    inputs = {r["input"] for r in load_algorithmic("simp_turing_concept")}
    assert all(i.prompt in inputs for i in items)  # used as-is, predetermined shots


def test_over_long_prompts_drop_exemplars_keeping_one_per_class(tok):
    task = toy_task()
    enc = Encoder(tok)
    full = icl_items(task, EvalConfig(seed=0, limit=2, settings=["labels"]), tok, Budget(enc, 4096))
    n = max(i.n_tokens for i in full)
    short = icl_items(task, EvalConfig(seed=0, limit=2, settings=["labels"]), tok, Budget(enc, n - 30))
    assert any(i.meta["shortened"] for i in short)
    for it in short:
        assert it.n_tokens <= n - 30 and it.meta["n_exemplars"] >= 2
    with pytest.raises(SymtuneError, match="one exemplar per class"):
        icl_items(task, EvalConfig(seed=0, limit=2, settings=["labels"]), tok, Budget(enc, 30))


def test_class_with_fewer_than_k_exemplars_is_an_error(tok, budget):
    with pytest.raises(SymtuneError, match="class 'positive' has 2 exemplars.*fewer than k=4"):
        icl_items(toy_task(n_per_class=(8, 2)), EvalConfig(k=4), tok, budget)


def test_unknown_task_and_setting(tok, budget):
    with pytest.raises(SymtuneError, match="unknown task"):
        build_items(EvalConfig(tasks=["no_such_task"]), tok, budget)
    with pytest.raises(SymtuneError, match="unknown setting"):
        icl_items(toy_task(), EvalConfig(), tok, budget, settings=["bogus"])


def test_task_file_in_all_settings(tok, budget, tmp_path):
    rows = ["text,label"] + [f"sample text number {i},{'good' if i % 2 else 'bad'}" for i in range(40)]
    (tmp_path / "mine.csv").write_text("\n".join(rows) + "\n")
    items, _ = build_items(EvalConfig(task_file=str(tmp_path / "mine.csv"), limit=4, k=2), tok, budget)
    assert {i.setting for i in items} == {"instr+labels", "labels", "instr+symbols", "symbols"}
    assert {i.task for i in items} == {"mine"}
    assert all(i.options == ["bad", "good"] for i in items if i.setting.endswith("labels"))


def test_one_flip_rounding_rule_for_the_flipped_suite_and_the_flip_curve():
    """Both suites flip n_flipped(p, n) labels: half up, so p = 0.75 of 6 exemplars flips 5 in either."""
    from symtune.eval.suites import n_flipped

    assert n_flipped(0.75, 6) == 5 and n_flipped(0.5, 5) == 3 and n_flipped(0.25, 8) == 2
    assert [n_flipped(p / 10, 7) for p in range(11)] == sorted(n_flipped(p / 10, 7) for p in range(11))
    assert n_flipped(0.0, 9) == 0 and n_flipped(1.0, 9) == 9


def test_flipped_suite_rounds_a_half_up(tok, budget):
    """k = 3 per class: 6 exemplars, p = 0.75 -> 4.5 -> 5 flipped (Python's round gave 4)."""
    task = toy_task()
    items = flipped_items(task, EvalConfig(seed=0, limit=4, k=3, flip_proportion=0.75), tok, budget)
    assert items and all(not it.meta.get("shortened") and it.meta["n_flipped"] == 5 for it in items)
    from symtune.eval.suites import flip_curve_items

    curve = flip_curve_items(task, EvalConfig(seed=0, limit=4, k=3, flip_curve_proportions=[0.75]), tok, budget)
    assert curve and all(not it.meta["shortened"] and it.meta["n_flipped"] == 5 for it in curve)
