"""The one length-fitting routine (prompting/fit.py) and its three callers: tuning rows, evaluation
items and List Functions all take the fewest drops, in the one drop order, that fit."""

import random

import pytest

from symtune.prompting.fit import NoFit, fewest_drops
from symtune.prompting.templates import drop_order


def _linear(classes, cost, limit, start=0):
    """Reference: one drop at a time from `start` until the summed cost fits."""
    order = drop_order(classes)
    for d in range(min(start, len(order)), len(order) + 1):
        gone = set(order[:d])
        if sum(c for i, c in enumerate(cost) if i not in gone) <= limit:
            return d, [i for i in range(len(classes)) if i not in gone]
    return None


@pytest.mark.parametrize("seed", range(40))
def test_fewest_drops_matches_dropping_one_at_a_time(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 14)
    classes = [rng.randrange(rng.randint(1, 4)) for _ in range(n)]
    cost = [rng.randint(1, 30) for _ in range(n)]
    limit = rng.randint(5, sum(cost) + 5)
    start = rng.choice([0, 0, rng.randint(0, n)])
    calls = []

    def fits(kept):
        calls.append(kept)
        total = sum(cost[i] for i in kept)
        return total <= limit, total

    want = _linear(classes, cost, limit, start)
    if want is None:
        with pytest.raises(NoFit) as e:
            fewest_drops(classes, fits, start)
        assert e.value.result == sum(cost[i] for i in calls[-1]) and len(calls[-1]) == len(set(classes))
        return
    d, kept, total = fewest_drops(classes, fits, start)
    assert (d, kept) == want
    assert total == sum(cost[i] for i in kept) <= limit
    assert len(calls) <= 3 + n.bit_length()  # bisection, not one check per drop


def test_fewest_drops_keeps_one_exemplar_of_every_class():
    classes = [0, 1, 1, 2, 1, 0, 2, 2]
    d, kept, _ = fewest_drops(classes, lambda kept: (len(kept) <= 3, None))
    assert d == 5 and sorted(classes[i] for i in kept) == [0, 1, 2]
    with pytest.raises(NoFit):
        fewest_drops(classes, lambda kept: (len(kept) <= 2, None))


def test_the_three_callers_use_the_one_routine(monkeypatch, tmp_path):
    """Tuning rows, evaluation items and List Functions all fit through prompting.fit.fewest_drops."""
    import symtune.data.build as build
    import symtune.eval.algorithmic_suites as alg
    import symtune.prompting.fit as fit

    used = []
    real = fit.fewest_drops

    def spy(classes, fits, start=0):
        used.append(len(classes))
        return real(classes, fits, start)

    for mod in (build, alg, fit):
        monkeypatch.setattr(mod, "fewest_drops", spy)
    from symtune.data.config import DataConfig
    from symtune.data.run import make_builder
    from symtune.eval.config import EvalConfig
    from symtune.eval.suites import icl_items
    from symtune.eval.scoring import Encoder
    from symtune.models import DEFAULT_MODEL, load_tokenizer
    from symtune.prompting.fit import Budget
    from symtune.tasks.registry import get_task

    tok = load_tokenizer(DEFAULT_MODEL)
    make_builder(DataConfig(max_length=300, tasks=["politifact"]), tok).row(0)
    n_rows = len(used)
    cfg = EvalConfig(limit=2, settings=["symbols"], max_length=300)
    icl_items(get_task("snips_weather_music"), cfg, tok, Budget(Encoder(tok), 300), settings=["symbols"])
    n_items = len(used) - n_rows
    alg.list_functions_items(EvalConfig(limit=1, lf_subtasks=["c029"]), Budget(Encoder(tok), 2048))
    assert n_rows == 1 and n_items >= 2 and len(used) == n_rows + n_items + 1


def test_list_functions_drops_its_last_shots_first():
    from symtune.eval.algorithmic_suites import LF_SHOTS, list_functions_items
    from symtune.eval.config import EvalConfig
    from symtune.eval.scoring import Encoder
    from symtune.models import DEFAULT_MODEL, load_tokenizer
    from symtune.prompting.fit import Budget

    tok = load_tokenizer(DEFAULT_MODEL)
    cfg = EvalConfig(limit=4, lf_subtasks=["c029", "c080"])
    full = list_functions_items(cfg, Budget(Encoder(tok), 2048))
    tight = list_functions_items(cfg, Budget(Encoder(tok), 150))
    shortened = [(f, t) for f, t in zip(full, tight) if t.meta["shortened"]]
    assert shortened and all(f.meta["n_exemplars"] == LF_SHOTS for f in full)
    for f, t in shortened:
        blocks = f.prompt.split("\n\n")
        kept = t.meta["n_exemplars"]
        assert 1 <= kept < LF_SHOTS and t.n_tokens <= 150
        assert t.prompt == "\n\n".join(blocks[:kept] + blocks[-1:])  # the first shots kept, in order
