"""Paired base-vs-tuned intervals that respect clustering and stay honest at small n.

    from symtune.eval.stats import Unit, paired_interval, pair_rows
    units = pair_rows(base_rows, tuned_rows, correct)          # one Unit per query both evaluated
    iv = paired_interval(units)                                 # iv.delta, iv.ci, iv.n, iv.clusters

The one home of symtune's statistics: the Wilson interval behind every results.json ci95
(`eval/metrics.py`), `mean_of`, and the paired intervals `symtune report` and `scripts/sweep.py`
compute from samples files only. The statistic is the report's: the unweighted
mean over tasks of each task's mean of (tuned - base), a unit being one query of one task (its value
0/1 for accuracy, or any bounded number, e.g. a query's flip-curve slope).

Clusters. Queries that show the same source item (snips_weather_music's utterances are also
snips_3way's and snips_7way's; the BBC tasks share articles) are not independent: a model that gets
an utterance right in one task tends to in the others. A cluster is a source item, identified by a
hash of its text (`meta.source` in the sample rows; rows without it are their own cluster). The
interval comes from a **paired cluster bootstrap**: clusters are resampled with replacement (all of
a cluster's queries, base and tuned together), the statistic recomputed, and the 2.5/97.5%
percentiles taken. The generator is seeded, so a report is the same every time it is built.

Small n. A bootstrap only resamples what it saw: six queries that base and tuned answer alike give
every replicate Δ = 0, i.e. [+0.0, +0.0], which claims a certainty six queries cannot give. So the
reported interval is the hull of the bootstrap interval and a **score-interval guard**: Δ is written
as the difference of its positive and negative parts, Δ = R (m+ - m-) (for accuracy: the shares of
queries only tuned gets right and only base gets right, the two discordant cells of the paired 2x2
table), each part gets a Wilson score interval, and the two are combined by the MOVER method
(Newcombe 1998, method 10 applied to the discordant cells, with their multinomial correlation
-sqrt(m+ m- / ((1 - m+)(1 - m-)))). A Wilson interval never has zero width (0 of 6 gives [0, 0.39]),
so the guard keeps the honest width of a binomial bound where the bootstrap collapses; for
fractional values a Wilson interval of a mean in [0, 1] is conservative (a 0/1 variable has the
largest variance for its mean). The guard's sample size is the one the bootstrap implies,
n = R^2 (m+ + m- - (m+ - m-)^2) / var_bootstrap, so at large n the guard has the bootstrap's width
and the hull changes nothing; when the bootstrap sees no variation at all it is the Kish effective
number of clusters, (sum W_c)^2 / sum W_c^2 with W_c a cluster's total weight in the statistic.
The implied n is capped at the Kish effective number of queries (no clustering), so the guard is
never narrower than independent queries would allow.

The interval still covers query sampling only: one training seed, one draw of exemplars,
templates and symbols per query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

Z95 = 1.959963984540054
DEFAULT_BOOT = 2000
DEFAULT_SEED = 20231128  # fixed: the same samples give the same interval in every report


@dataclass(frozen=True)
class Unit:
    """One query of one task, scored by base and by tuned (values in `value_range`)."""

    task: str
    cluster: str
    base: float
    tuned: float


@dataclass
class PairedInterval:
    delta: float  # mean over tasks of the per-task mean of tuned - base
    ci: tuple[float, float]  # reported: hull of bootstrap and guard
    n: int  # units (queries) paired
    clusters: int  # distinct source items among them
    tasks: int
    n_eff: float  # Kish effective number of clusters
    boot_ci: tuple[float, float]
    guard_ci: tuple[float, float]
    guard_n: float
    base: float = 0.0
    tuned: float = 0.0
    method: str = "paired cluster bootstrap + MOVER-Wilson guard"
    per_task: dict = field(default_factory=dict)  # task -> (n, delta)

    def as_dict(self) -> dict:
        return {"delta": self.delta, "ci": list(self.ci), "n": self.n, "clusters": self.clusters,
                "tasks": self.tasks, "n_eff": self.n_eff, "boot_ci": list(self.boot_ci),
                "guard_ci": list(self.guard_ci), "guard_n": self.guard_n, "base": self.base, "tuned": self.tuned,
                "method": self.method}


def wilson(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion p observed over n (n may be fractional)."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_of(xs) -> float | None:
    """Mean of the values that are present (None skipped); None when none is."""
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def mover_guard(m_pos: float, m_neg: float, n: float, z: float = Z95) -> tuple[float, float]:
    """MOVER-Wilson interval of m_pos - m_neg, the two shares being cells of one multinomial."""
    lp, up = wilson(m_pos, n, z)
    ln, un = wilson(m_neg, n, z)
    if 0 < m_pos < 1 and 0 < m_neg < 1:
        rho = -math.sqrt(m_pos * m_neg / ((1 - m_pos) * (1 - m_neg)))
    else:
        rho = 0.0
    d = m_pos - m_neg
    lo = d - math.sqrt(max((m_pos - lp) ** 2 + (un - m_neg) ** 2 - 2 * rho * (m_pos - lp) * (un - m_neg), 0.0))
    hi = d + math.sqrt(max((up - m_pos) ** 2 + (m_neg - ln) ** 2 - 2 * rho * (up - m_pos) * (m_neg - ln), 0.0))
    return max(-1.0, lo), min(1.0, hi)


def _kish(weights) -> float:
    s, s2 = sum(weights), sum(w * w for w in weights)
    return s * s / s2 if s2 > 0 else 0.0


def paired_interval(units: Iterable[Unit], value_range: tuple[float, float] = (0.0, 1.0), level: float = 0.95,
                    n_boot: int = DEFAULT_BOOT, seed: int = DEFAULT_SEED, clustered: bool = True) -> PairedInterval:
    """Δ = mean over tasks of mean(tuned - base), with its clustered, small-sample-safe interval.

    clustered=False treats every unit as its own cluster (the naive interval, for comparison).
    """
    import numpy as np

    units = list(units)
    if not units:
        raise ValueError("paired_interval needs at least one unit")
    lo_v, hi_v = value_range
    r = float(hi_v - lo_v)
    if r <= 0:
        raise ValueError("value_range must be increasing")
    tasks = sorted({u.task for u in units})
    t_index = {t: i for i, t in enumerate(tasks)}
    keys = [(u.cluster if clustered else f"{u.task}\x00{i}") for i, u in enumerate(units)]
    clusters = sorted(set(keys))
    c_index = {c: i for i, c in enumerate(clusters)}
    n_t = np.zeros(len(tasks))
    for u in units:
        n_t[t_index[u.task]] += 1
    d = np.array([u.tuned - u.base for u in units], dtype=float)
    ti = np.array([t_index[u.task] for u in units])
    ci = np.array([c_index[k] for k in keys])
    w = 1.0 / (len(tasks) * n_t[ti])  # the statistic's weight of each unit
    delta = float(np.sum(w * d))
    m_pos = float(np.sum(w * np.clip(d, 0, None))) / r
    m_neg = float(np.sum(w * np.clip(-d, 0, None))) / r
    wc = np.bincount(ci, weights=w, minlength=len(clusters))
    n_eff = _kish(wc.tolist())
    n_eff_units = _kish(w.tolist())

    # paired cluster bootstrap: per-cluster, per-task sums and counts; a replicate = cluster counts
    s = np.zeros((len(clusters), len(tasks)))
    c = np.zeros((len(clusters), len(tasks)))
    np.add.at(s, (ci, ti), d)
    np.add.at(c, (ci, ti), 1.0)
    rng = np.random.default_rng(seed)
    k = len(clusters)
    reps = np.empty(n_boot)
    step = max(1, 200_000 // max(k, 1))  # bounded memory for many clusters
    for start in range(0, n_boot, step):
        m = rng.multinomial(k, np.full(k, 1.0 / k), size=min(step, n_boot - start)).astype(float)
        ms, mc = m @ s, m @ c
        with np.errstate(invalid="ignore", divide="ignore"):
            per_task = np.where(mc > 0, ms / np.where(mc > 0, mc, 1.0), np.nan)
        reps[start:start + len(m)] = np.nanmean(per_task, axis=1)
    alpha = 1 - level
    boot = (float(np.quantile(reps, alpha / 2)), float(np.quantile(reps, 1 - alpha / 2)))
    var_b = float(np.var(reps, ddof=1)) if n_boot > 1 else 0.0

    z = float(_z(level))
    bound = m_pos + m_neg - (m_pos - m_neg) ** 2  # variance of one rescaled unit at most (0/1/-1 values)
    if var_b > 1e-15 and bound > 0:
        guard_n = min(bound * r * r / var_b, n_eff_units)
    else:
        guard_n = n_eff
    glo, ghi = mover_guard(m_pos, m_neg, guard_n, z)
    guard = (glo * r, ghi * r)
    ci_out = (min(boot[0], guard[0]), max(boot[1], guard[1]))
    base = float(np.sum(w * np.array([u.base for u in units])))
    per = {t: (int(n_t[i]), float(np.mean(d[ti == i]))) for t, i in t_index.items()}
    return PairedInterval(delta=delta, ci=ci_out, n=len(units), clusters=len(clusters), tasks=len(tasks),
                          n_eff=n_eff, boot_ci=boot, guard_ci=guard, guard_n=guard_n, base=base, tuned=base + delta,
                          per_task=per)


def _z(level: float) -> float:
    if abs(level - 0.95) < 1e-12:
        return Z95
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def cluster_of(row: dict, task: str | None = None) -> str:
    """A sample row's source item: meta.source, else the query itself (no clustering known)."""
    src = (row.get("meta") or {}).get("source")
    return f"src:{src}" if src else f"row:{task or row.get('task')}:{row.get('key')}:{row.get('doc_id')}"


def pair_rows(base_rows: list[dict], tuned_rows: list[dict], value: Callable[[dict], float | None],
              task: str | None = None) -> list[Unit] | None:
    """Units for the queries both sides scored with the same prompt (matched by doc_id and prompt hash).

    Returns None when the two sides do not hold the same queries (then they cannot be paired).
    """
    def index(rows):
        out = {}
        for r in rows:
            key = r.get("doc_id")
            if key is None or key in out or not r.get("prompt_hash"):
                return None
            out[key] = r
        return out

    ib, it = index(base_rows), index(tuned_rows)
    if not ib or not it or set(ib) != set(it):
        return None
    units = []
    for key, b in ib.items():
        t = it[key]
        if b["prompt_hash"] != t["prompt_hash"]:
            return None
        vb, vt = value(b), value(t)
        if vb is None or vt is None:
            return None
        name = task or b.get("task") or ""
        units.append(Unit(name, cluster_of(b, name), float(vb), float(vt)))
    return units
