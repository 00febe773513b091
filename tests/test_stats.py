"""Clustered, small-sample-safe paired intervals (symtune.eval.stats) on synthetic data."""

import math
import random

import pytest

from symtune.eval.stats import Unit, mover_guard, paired_interval, wilson

TRUE_DELTA = 0.1  # P(only tuned right) 0.2 - P(only base right) 0.1


def _pair(rng):
    x = rng.random()
    if x < 0.2:
        return 0.0, 1.0
    if x < 0.3:
        return 1.0, 0.0
    b = float(rng.random() < 0.6)
    return b, b


def duplicated(rng, clusters=40, tasks=3):
    """Every source item appears in every task with the same answers (like snips_weather_music's
    utterances in snips_3way and snips_7way): 120 queries, but only 40 independent ones."""
    units = []
    for c in range(clusters):
        b, t = _pair(rng)
        units += [Unit(f"task{k}", f"src{c}", b, t) for k in range(tasks)]
    return units


def test_naive_interval_too_narrow_clustered_one_covers():
    rng = random.Random(11)
    reps = 200
    hits = {True: 0, False: 0}
    for rep in range(reps):
        units = duplicated(rng)
        for clustered in (True, False):
            iv = paired_interval(units, n_boot=1000, seed=rep, clustered=clustered)
            hits[clustered] += iv.ci[0] <= TRUE_DELTA <= iv.ci[1]
    naive, clustered = hits[False] / reps, hits[True] / reps
    # naive: each source counted three times, the interval ~1/sqrt(3) as wide -> ~74% coverage
    assert naive < 0.85
    # clustered: the nominal 95% within simulation error (sd ~1.5 points at 200 replications)
    assert 0.90 <= clustered <= 0.99


def test_clusters_reported_next_to_n():
    iv = paired_interval(duplicated(random.Random(0)))
    assert iv.n == 120 and iv.clusters == 40 and iv.tasks == 3 and iv.n_eff == pytest.approx(40)
    naive = paired_interval(duplicated(random.Random(0)), clustered=False)
    assert naive.clusters == 120
    assert (iv.ci[1] - iv.ci[0]) > 1.4 * (naive.ci[1] - naive.ci[0])


def test_six_identical_answers_are_not_certain():
    for b in (1.0, 0.0):
        iv = paired_interval([Unit("t", f"q{i}", b, b) for i in range(6)])
        assert iv.delta == 0 and iv.boot_ci == (0.0, 0.0)  # the bootstrap alone would claim certainty
        # the guard: 0 discordant pairs of 6 -> Wilson upper bound 0.39 each way
        assert iv.ci == pytest.approx((-0.3903, 0.3903), abs=1e-3)
    # half right, half wrong, the same answers on both sides: still not certain
    mixed = [Unit("t", f"q{i}", float(i < 3), float(i < 3)) for i in range(6)]
    assert paired_interval(mixed).ci == pytest.approx((-0.3903, 0.3903), abs=1e-3)


def test_small_n_one_discordant_pair():
    iv = paired_interval([Unit("t", "q0", 0.0, 1.0)] + [Unit("t", f"q{i}", 1.0, 1.0) for i in range(1, 6)])
    assert iv.delta == pytest.approx(1 / 6)
    assert iv.boot_ci == pytest.approx((0.0, 0.5))
    # the guard widens it on both sides (1 discordant pair of 6), and only that far: Wilson's bounds
    assert iv.ci == pytest.approx((-0.2481, 0.5645), abs=1e-3) and iv.ci == iv.guard_ci


def test_small_sample_coverage():
    """12 queries with rare discordance: the hull keeps coverage at or above nominal."""
    rng = random.Random(3)
    hits = 0
    for rep in range(200):
        units = [Unit("t", f"q{i}", *_pair(rng)) for i in range(12)]
        iv = paired_interval(units, n_boot=500, seed=rep)
        hits += iv.ci[0] <= TRUE_DELTA <= iv.ci[1]
    assert hits / 200 >= 0.93


def test_large_n_matches_normal_theory_and_is_reproducible():
    rng = random.Random(5)
    units = [Unit("t", f"q{i}", *_pair(rng)) for i in range(3000)]
    iv = paired_interval(units)
    m_pos = sum(u.tuned > u.base for u in units) / 3000
    m_neg = sum(u.tuned < u.base for u in units) / 3000
    half = 1.959964 * math.sqrt((m_pos + m_neg - (m_pos - m_neg) ** 2) / 3000)
    assert (iv.ci[1] - iv.ci[0]) / 2 == pytest.approx(half, rel=0.1)  # the guard adds nothing at large n
    assert paired_interval(units).ci == iv.ci  # fixed seed: same samples, same report
    assert paired_interval(units, seed=1).ci != iv.ci


def test_mean_over_tasks_weights_tasks_equally():
    units = [Unit("a", f"a{i}", 0.0, 1.0) for i in range(10)] + [Unit("b", f"b{i}", 0.0, 0.0) for i in range(90)]
    iv = paired_interval(units)
    assert iv.delta == pytest.approx(0.5) and iv.per_task == {"a": (10, 1.0), "b": (90, 0.0)}
    assert iv.n_eff == pytest.approx(36)  # Kish: 10 queries carry half the weight


def test_score_interval_helpers():
    assert wilson(0.0, 6)[1] == pytest.approx(0.3903, abs=1e-4)
    lo, hi = mover_guard(0.2, 0.1, 1000)
    assert lo < 0.1 < hi and hi - lo == pytest.approx(2 * 1.96 * math.sqrt((0.3 - 0.01) / 1000), rel=0.05)
    with pytest.raises(ValueError):
        paired_interval([])


def test_one_correctness_rule_behind_metrics_diagnostics_and_report():
    """results.json, the diagnostics and the report's pairing judge a row by one rule (row_correct)."""
    from symtune.eval.diagnostics import task_diagnostics
    from symtune.eval.metrics import row_correct, task_metrics

    rows = [
        {"options": ["a", "b"], "gold": 0, "pred": 0, "pred_norm": 1, "generation": "b"},
        {"options": ["a", "b"], "gold": 1, "pred": 1, "pred_norm": 1, "generation": "b"},
        {"options": ["a", "b"], "gold": 1, "pred": 0, "pred_norm": 1, "generation": "zz"},
    ]
    assert [row_correct(r, "acc") for r in rows] == [True, True, False]
    assert [row_correct(r, "acc_norm") for r in rows] == [False, True, True]
    assert [row_correct(r, "acc_gen") for r in rows] == [False, True, False]  # "zz" matches no option
    for metric in ("acc", "acc_norm", "acc_gen"):
        m = task_metrics(rows, metric)
        share = sum(row_correct(r, metric) for r in rows) / 3
        assert m[metric] == pytest.approx(share)
        assert task_diagnostics(rows, metric)["acc"] == pytest.approx(share)
    # a row scored without generation is judged by its ranking, as task_metrics falls back to acc
    assert row_correct({"options": ["a"], "gold": 0, "pred": 0}, "acc_gen") is True
    assert row_correct({"options": ["a"], "gold": 0}, "acc") is None  # nothing to judge: not "wrong"
    assert row_correct({"options": [], "gold": "1 2", "generation": "1 2"}) is True  # open-ended: exact match
    assert row_correct({"options": [], "gold": "1 2"}) is None


def test_wilson_is_the_ci95_of_results():
    from symtune.eval.metrics import task_metrics

    rows = [{"options": ["a", "b"], "gold": 0, "pred": int(i % 3 == 0), "pred_norm": 0} for i in range(9)]
    k = sum(r["pred"] == 0 for r in rows)
    assert task_metrics(rows, "acc")["ci95"] == list(wilson(k / 9, 9))
