"""Issue 11 measurement side, no model: the dev split, row meta (source, shown, families), the
permutation control and the flip / k curves, each scored by hand-built scorers."""

import random

import pytest

from symtune.errors import SymtuneError
from symtune.eval.config import EvalConfig
from symtune.eval.curves import curves, query_slopes, slope_range
from symtune.eval.diagnostics import diagnostics
from symtune.eval.scoring import Encoder
from symtune.eval.stats import pair_rows, paired_interval
from symtune.eval.build import build_items
from symtune.prompting.fit import Budget
from symtune.prompting.sampling import query_pool
from symtune.eval.suites import flip_curve_items, flipped_items, icl_items, k_curve_items
from symtune.prompting.templates import TEMPLATES
from symtune.prompting.symbols import symbol_family
from symtune.tasks.base import Example, Task


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from symtune.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


@pytest.fixture(scope="module")
def budget(tok):
    return Budget(Encoder(tok), 2048)


WORDS = "apple river stone cloud quick slow bright dark tall short".split()


def toy_task(n_train=(14, 14), n_val=(6, 6), same_split=False, duplicate_val_in_train=False):
    rng = random.Random(0)
    data = {"train": [], "validation": []}
    for split, counts in (("train", n_train), ("validation", n_val)):
        for c, n in enumerate(counts):
            for i in range(n):
                data[split].append(Example(f"{split} c{c} #{i}: " + " ".join(rng.choice(WORDS) for _ in range(5)), c))
    if duplicate_val_in_train:  # the same utterance in both splits (and twice in train)
        data["train"] += [data["validation"][0], data["validation"][0], data["train"][0]]
    labels = ["negative", "positive", "neutral"][: len(n_train)]
    return Task(name="toy", role="eval", task_type="toy", labels=labels, instruction="Classify it.",
                query_split="train" if same_split else "validation", loader=lambda s: data[s])


def _query(task, cfg, doc_id):
    return task.examples(task.exemplar_split if cfg.split == "dev" else task.query_split)[doc_id]


def _label_after(prompt, text):
    rest = prompt.split(text, 1)[1]
    for fmt in TEMPLATES:
        head = fmt.label_sep + fmt.label_prefix + " "
        if rest.startswith(head):
            return rest[len(head):].split(fmt.example_sep, 1)[0]
    raise AssertionError("no label after exemplar")


def _exemplars(task, prompt, query):
    """(example, label shown) for the exemplars of a prompt, by text (the query itself excluded)."""
    head = prompt[: prompt.rindex(query.text)]
    return [(ex, _label_after(prompt, ex.text)) for ex in task.examples(task.exemplar_split) if ex.text in head]


def _row(it, pred):
    return {"doc_id": it.doc_id, "setting": it.setting, "suite": it.suite, "task": it.task, "key": it.key,
            "prompt_hash": str(hash(it.prompt)), "prompt": it.prompt, "options": it.options,
            "option_tokens": [1] * len(it.options), "pred": pred, "pred_norm": pred, "gold": it.gold, "meta": it.meta}


def _score(items, scorer):
    by_file = {}
    for it in items:
        by_file.setdefault((it.suite, it.task), []).append(_row(it, scorer(it)))
    return by_file


# ------------------------------------------------------------------ dev split
def test_dev_queries_are_disjoint_from_test_and_never_their_own_exemplars(tok, budget):
    task = toy_task(duplicate_val_in_train=True)
    test_texts = {e.text for e in task.examples("validation")}
    cfg = EvalConfig(split="dev", dev_limit=30, k=3, seed=2)
    queries, qids = query_pool(task, cfg)
    assert qids and all(queries[i].text not in test_texts for i in qids)
    items = icl_items(task, cfg, tok, budget) + flipped_items(task, cfg, tok, budget)
    assert {it.setting for it in items} == {"labels", "symbols", "flipped"}  # dev settings + flipped
    for it in items:
        q = _query(task, cfg, it.doc_id)
        assert q.text not in test_texts
        assert it.prompt.count(q.text) == 1  # never shown as an exemplar, not even a duplicate of it
    # same split for queries and exemplars: dev leaves out the test evaluation's sampled queries
    same = toy_task(same_split=True)
    test_ids = set(query_pool(same, EvalConfig(limit=8, seed=2))[1])
    dev_ids = set(query_pool(same, EvalConfig(limit=8, split="dev", dev_limit=12, seed=2))[1])
    assert len(dev_ids) == 12 and not dev_ids & test_ids


def test_dev_split_on_the_default_tasks_shares_no_source_with_test(tok, budget):
    dev, _ = build_items(EvalConfig(split="dev", suite="all", dev_limit=40), tok, budget)
    test, notes = build_items(EvalConfig(suite="all", settings=["labels"]), tok, budget)
    src_dev = {it.meta["source"] for it in dev}
    src_test = {it.meta["source"] for it in test if "source" in it.meta}
    assert src_dev and src_test and not src_dev & src_test
    assert {it.suite for it in dev} == {"icl", "flipped"}  # algorithmic has no dev split
    assert {it.setting for it in dev} == {"labels", "symbols", "flipped"}
    assert max(sum(1 for it in dev if it.task == t and it.setting == "labels") for t in {i.task for i in dev}) == 40
    # dev prompts differ from test's (own seed stream) and the dev queries never repeat inside a prompt
    assert not {it.prompt for it in dev} & {it.prompt for it in test}
    assert notes["split"]["name"] == "test"
    with pytest.raises(SymtuneError, match="no dev split"):
        build_items(EvalConfig(split="dev", suite="algorithmic"), tok, budget)


def test_dev_split_and_new_options_are_in_the_config_hash():
    from symtune.config import hashed
    from symtune.eval.runner import config_hash
    from symtune.provenance import stable_hash

    base = EvalConfig()
    assert config_hash(EvalConfig(split="dev")) != config_hash(base)
    assert config_hash(EvalConfig(split="dev", dev_limit=20)) != config_hash(EvalConfig(split="dev"))
    assert config_hash(EvalConfig(permutation_control=True)) != config_hash(base)
    assert config_hash(EvalConfig(extra_suites=["flip_curve"])) != config_hash(base)
    # one definition of what is hashed: config.hashed (runtime fields out, everything else in)
    from symtune.hardware import resolve_config

    assert config_hash(base) == stable_hash(hashed(resolve_config(base, "eval")[0]))  # auto resolved first
    assert config_hash(EvalConfig(batch_size=1, processes=2)) == config_hash(base)


# ------------------------------------------------------------------ meta
def test_rows_record_source_shown_labels_and_symbol_families(tok, budget):
    task = toy_task()
    items = icl_items(task, EvalConfig(seed=0, limit=6, k=3), tok, budget)
    for it in items:
        q = _query(task, EvalConfig(), it.doc_id)
        shown = [it.options.index(lab) for _, lab in sorted(_exemplars(task, it.prompt, q),
                                                            key=lambda p: it.prompt.index(p[0].text))]
        assert it.meta["shown"] == shown and len(shown) == 6
        assert len(it.meta["source"]) == 16
        if it.setting.endswith("symbols"):
            assert it.meta["families"] == [symbol_family(s) for s in it.options]
        else:
            assert "families" not in it.meta
    assert len({it.meta["source"] for it in items}) == 6  # one source per query, shared by its 4 settings


def test_symbol_family():
    assert [symbol_family(s) for s in ("48213", "QXB", "lantern")] == ["int", "letters", "word"]


# ------------------------------------------------------------------ permutation control
class MeaningPool:
    """Eval symbols whose meaning matches the classes: class 0 'awful', class 1 'great' (the worst case
    for a symbol-tuning claim: the words alone tell the answer)."""

    def sample(self, n, rng, tokenizer=None):
        return ["awful", "great", "meh"][:n]


def _query_class(task, it):
    return _query(task, EvalConfig(), it.doc_id).label  # the "content" a reader understands


def meaning_reader(task):
    """Reads only the symbols' meaning: picks the word that fits the query's content; ignores the exemplars."""
    fits = {0: "awful", 1: "great", 2: "meh"}
    return lambda it: it.options.index(fits[_query_class(task, it)])


def mapping_follower(task):
    """Reads the mapping: picks the label the exemplars of the query's class showed."""
    def score(it):
        q = _query(task, EvalConfig(), it.doc_id)
        shown = [lab for ex, lab in _exemplars(task, it.prompt, q) if ex.label == q.label]
        return it.options.index(max(set(shown), key=shown.count))
    return score


@pytest.mark.parametrize("classes", [2, 3])
def test_permutation_control_separates_symbol_meaning_from_the_mapping(tok, budget, monkeypatch, classes):
    import symtune.eval.suites as suites

    monkeypatch.setattr(suites, "eval_symbol_pool", lambda: MeaningPool())
    task = toy_task(n_train=(14,) * classes, n_val=(6,) * classes)
    cfg = EvalConfig(seed=0, limit=12, k=3, settings=["symbols"], permutation_control=True)
    items = icl_items(task, cfg, tok, budget)
    perm = [it for it in items if it.suite == "perm_control"]
    assert len(perm) == 12 and {it.setting for it in perm} == {"symbols"}  # one extra prompt per query
    orig = {it.doc_id: it for it in items if it.suite == "icl" and it.setting == "symbols"}
    for it in perm:
        o = orig[it.doc_id]
        assert sorted(it.options) == sorted(o.options) and it.options != o.options and it.gold == o.gold
        assert it.meta["template"] == o.meta["template"] and it.meta["shown"] == o.meta["shown"]
    reader = diagnostics(_score(items, meaning_reader(task)))["perm_control"]["symbols"]["toy"]
    assert reader["acc_original"] == 1.0 and reader["acc_permuted"] == 0.0
    assert reader["same_symbol"] == 1.0 and reader["same_class"] == 0.0
    if classes == 2:
        assert reader["acc_balanced"] == 0.5  # chance: the meaning alone is worth nothing once permuted
    follower = diagnostics(_score(items, mapping_follower(task)))["perm_control"]["symbols"]["toy"]
    assert follower["acc_original"] == follower["acc_permuted"] == follower["acc_balanced"] == 1.0
    assert follower["same_class"] == 1.0 and follower["same_symbol"] == 0.0


def test_permutation_control_is_opt_in_and_its_cost(tok, budget):
    task = toy_task()
    plain = icl_items(task, EvalConfig(seed=0, limit=6, k=2), tok, budget)
    with_perm = icl_items(task, EvalConfig(seed=0, limit=6, k=2, permutation_control=True), tok, budget)
    assert all(it.suite == "icl" for it in plain)
    assert [it.prompt for it in with_perm if it.suite == "icl"] == [it.prompt for it in plain]
    assert len(with_perm) == len(plain) * 3 // 2  # +1 prompt per symbol-setting query (2 of 4 settings)


# ------------------------------------------------------------------ diagnostics
def test_diagnostics_majority_copy_last_family_and_length():
    def row(doc, pred, gold, shown, families, toks):
        return {"doc_id": doc, "setting": "symbols", "suite": "icl", "task": "t", "options": ["a", "b"],
                "pred": pred, "pred_norm": pred, "gold": gold, "option_tokens": toks,
                "meta": {"shown": shown, "families": families}}

    rows = [row(0, 0, 0, [1, 0], ["int", "word"], [6, 1]),   # copies last, int right
            row(1, 0, 1, [0, 1], ["int", "word"], [6, 1]),   # predicts int (wrong), last was 1
            row(2, 1, 1, [0, 1], ["word", "word"], [1, 1]),  # equal lengths, copies last
            row(3, 0, 0, [1, 1], ["letters", "int"], [2, 6])]
    d = diagnostics({("icl", "t"): rows})["icl"]["symbols"]["t"]
    assert d["n"] == 4 and d["acc"] == 0.75 and d["majority_share"] == 0.75
    assert d["copy_last"] == 0.5 and d["copy_last_gold"] == 0.75
    fam = d["by_family"]
    assert fam["int"]["n"] == 1 and fam["int"]["acc"] == 1.0 and fam["int"]["pred_share"] == 0.5
    assert fam["int"]["option_share"] == 3 / 8 and fam["word"]["n"] == 2 and fam["word"]["acc"] == 0.5
    assert fam["letters"] == {"n": 1, "acc": 1.0, "pred_share": 0.25, "option_share": 1 / 8}
    ln = d["by_length"]
    assert ln["equal"] == {"n": 1, "acc": 1.0}
    assert ln["unequal"]["n"] == 3 and ln["unequal"]["acc"] == 2 / 3
    assert ln["unequal"]["pred_shortest"] == 1 / 3 and ln["unequal"]["shortest_share"] == 0.5


# ------------------------------------------------------------------ flip curve
def exemplar_follower(task, cfg):
    """Predicts the label most exemplars of the query's class showed (follows flipped labels)."""
    def score(it):
        q = _query(task, cfg, it.doc_id)
        shown = [lab for ex, lab in _exemplars(task, it.prompt, q) if ex.label == q.label]
        best = max(set(shown), key=lambda lab: (shown.count(lab), lab == task.labels[q.label]))
        return it.options.index(best)
    return score


def prior_reader(task, cfg):
    """Knows the answer from the input alone and ignores the exemplars."""
    return lambda it: _query(task, cfg, it.doc_id).label


def test_flip_curve_falls_for_an_exemplar_follower_and_is_flat_for_a_prior_reader(tok, budget):
    task = toy_task(n_val=(10, 10))
    cfg = EvalConfig(seed=1, limit=20, k=4)
    items = flip_curve_items(task, cfg, tok, budget)
    assert {it.setting for it in items} == {"p0.00", "p0.25", "p0.50", "p0.75", "p1.00"}
    by = {}
    for it in items:
        by.setdefault(it.doc_id, {})[it.setting] = it
        assert it.gold == _query(task, cfg, it.doc_id).label  # gold unchanged
        assert it.meta["n_flipped"] == int(it.meta["proportion"] * 8 + 0.5)
    for doc, s in by.items():  # nested flips: every exemplar flipped at p is flipped at larger p
        flipped_at = {p: {ex.text for ex, lab in _exemplars(task, it.prompt, _query(task, cfg, doc))
                          if lab != task.labels[ex.label]} for p, it in s.items()}
        order = sorted(flipped_at)
        assert all(flipped_at[a] <= flipped_at[b] for a, b in zip(order, order[1:]))
    # the 100% prompt is the flipped suite's paper-protocol prompt (there the gold is flipped)
    paper = {it.doc_id: it for it in flipped_items(task, cfg, tok, budget)}
    assert all(by[d]["p1.00"].prompt == paper[d].prompt and paper[d].gold == 1 - by[d]["p1.00"].gold for d in by)

    follow = curves(_score(items, exemplar_follower(task, cfg)))["flip_curve"]
    flat = curves(_score(items, prior_reader(task, cfg)))["flip_curve"]
    assert follow["mean"]["0"] == 1.0 and follow["mean"]["1"] == 0.0
    assert follow["slope"] < -0.9 and follow["natural"] == 1.0 and follow["flipped_paper"] == 1.0
    assert flat["slope"] == pytest.approx(0.0) and set(flat["mean"].values()) == {1.0}
    assert flat["flipped_paper"] == 0.0

    # the paired Δ of the slope (base = follower, tuned = prior reader) with its clustered interval
    rows_b = _score(items, exemplar_follower(task, cfg))[("flip_curve", "toy")]
    rows_t = _score(items, prior_reader(task, cfg))[("flip_curve", "toy")]
    sb, st = query_slopes(rows_b), query_slopes(rows_t)
    from symtune.eval.stats import Unit

    units = [Unit("toy", f"q{d}", sb[d], st[d]) for d in sb]
    iv = paired_interval(units, value_range=slope_range([0, 0.25, 0.5, 0.75, 1]))
    assert iv.delta == pytest.approx(-follow["slope"]) and iv.ci[0] > 0.5 and iv.n == iv.clusters == 20


def test_flip_curve_needs_binary_tasks(tok, budget):
    with pytest.raises(SymtuneError, match="binary"):
        flip_curve_items(toy_task(n_train=(6, 6, 6), n_val=(2, 2, 2)), EvalConfig(), tok, budget)
    with pytest.raises(SymtuneError, match="flip-curve-proportions"):
        flip_curve_items(toy_task(), EvalConfig(flip_curve_proportions=[0.0, 1.5]), tok, budget)


# ------------------------------------------------------------------ k curve
def test_k_curve_nested_exemplars_and_summary(tok, budget):
    task = toy_task(n_train=(10, 10))
    cfg = EvalConfig(seed=0, limit=4, k_curve=[1, 2, 4, 8])
    items = k_curve_items(task, cfg, tok, budget)
    assert len(items) == 4 * 4 * 2
    by = {}
    for it in items:
        by.setdefault((it.doc_id, it.setting.split("@")[0]), {})[it.meta["k"]] = it
        assert it.meta["n_exemplars"] == 2 * it.meta["k"] and it.setting.endswith(f"@k{it.meta['k']}")
    for (doc, setting), s in by.items():
        q = _query(task, cfg, doc)
        sets = {k: {ex.text for ex, _ in _exemplars(task, it.prompt, q)} for k, it in s.items()}
        assert sets[1] <= sets[2] <= sets[4] <= sets[8]
        if setting == "symbols":
            assert len({tuple(it.options) for it in s.values()}) == 1  # one symbol draw per query
    summary = curves(_score(items, prior_reader(task, cfg)))["k_curve"]
    assert summary["symbols"]["k"] == [1, 2, 4, 8] and summary["labels"]["mean"] == [1.0] * 4
    with pytest.raises(SymtuneError, match="fewer than k=11"):
        k_curve_items(task, EvalConfig(k_curve=[11]), tok, budget)


def test_pair_rows_clusters_by_source_across_tasks():
    def rows(task, preds):
        return [{"doc_id": i, "task": task, "prompt_hash": f"{task}{i}", "pred": p, "gold": 0,
                 "meta": {"source": f"s{i}"}} for i, p in enumerate(preds)]

    correct = lambda r: float(r["pred"] == r["gold"])  # noqa: E731
    units = pair_rows(rows("a", [1, 0, 0]), rows("a", [0, 0, 0]), correct) + \
        pair_rows(rows("b", [1, 0]), rows("b", [0, 0]), correct)
    iv = paired_interval(units)
    assert iv.n == 5 and iv.clusters == 3 and iv.tasks == 2
    assert pair_rows(rows("a", [1, 0]), rows("a", [1]), correct) is None  # not the same queries
