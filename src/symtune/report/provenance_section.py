"""The report's last section: folders, models, device and dtype, seeds, versions, timings, the resolved
configuration (differences between runs first).

    from symtune.report.provenance_section import provenance_section
"""

from __future__ import annotations

from symtune.report.blocks import Details, Para, Table
from symtune.report.fmt import DASH, duration, flat, value
from symtune.report.load import Run


def provenance_section(runs: list[Run]) -> list:
    """Folders, models, device and dtype, seeds, git revision, versions; then timings and configuration."""
    out: list = []
    multi = len(runs) > 1
    head = ["Item"] + ([r.label for r in runs] if multi else ["Value"])
    metas = [r.run_meta or {} for r in runs]
    run_cfgs = [m.get("config") if isinstance(m.get("config"), dict) else {} for m in metas]

    def prov(r: Run) -> dict:
        for doc in (r.run_meta, r.tuned.doc if r.tuned else None, r.base.doc if r.base else None, r.train_meta):
            if isinstance(doc, dict) and isinstance(doc.get("provenance"), dict):
                return doc["provenance"]
        return {}

    provs = [prov(r) for r in runs]
    rows = [["folder"] + [f"`{r.path}`" for r in runs]]
    for key, name in (("preset", "preset"), ("control", "control")):
        vals = [m.get(key, c.get(key)) for m, c in zip(metas, run_cfgs)]
        if any(v is not None for v in vals):
            rows.append([name] + [DASH if v is None else value(v) for v in vals])
    for side, name in (("base", "base model"), ("tuned", "tuned model / adapter")):
        vals = []
        for r in runs:
            ev = getattr(r, side)
            if ev is None:
                vals.append(DASH)
            else:
                bits = [str(ev.doc.get("model"))] if ev.doc.get("model") else []
                if ev.doc.get("adapter"):
                    bits.append(f"adapter {ev.doc['adapter']}")
                if ev.doc.get("dtype"):
                    bits.append(str(ev.doc["dtype"]))
                vals.append(", ".join(bits) or DASH)
        if any(v != DASH for v in vals):
            rows.append([name] + vals)

    def hw(doc) -> str:  # what ran, and why that dtype (symtune/hardware.py)
        h = doc.get("hardware") if isinstance(doc, dict) else None
        return f"{h['device']}, {h['dtype']} ({h['reason']})" if isinstance(h, dict) and "reason" in h else DASH

    for name, get in (("training device, dtype", lambda r: r.train_meta),
                      ("evaluation device, dtype", lambda r: (r.tuned or r.base).doc if (r.tuned or r.base) else None)):
        vals = [hw(get(r)) for r in runs]
        if any(v != DASH for v in vals):
            rows.append([name] + vals)
    seeds = []
    for r, m, c in zip(runs, metas, run_cfgs):
        s = c.get("seed")  # run.json's config, else the training's or the evaluation's record
        if s is None and r.train_meta:
            s = r.train_meta.get("seeds")
        if s is None:
            ev = r.tuned or r.base
            s = (ev.doc.get("config") or {}).get("seed") if ev and isinstance(ev.doc.get("config"), dict) else None
        seeds.append(DASH if s is None else (", ".join(f"{k}={v}" for k, v in s.items()) if isinstance(s, dict) else value(s)))
    rows.append(["seeds"] + seeds)
    rows.append(["git revision"] + [str(p.get("git_revision") or DASH) for p in provs])
    if any(p.get("platform") for p in provs):
        rows.append(["platform"] + [str(p.get("platform") or DASH) for p in provs])
    pkgs: list[str] = []
    for p in provs:
        pkgs += [k for k in (p.get("versions") or {}) if k not in pkgs]
    for k in pkgs:
        rows.append([k] + [str((p.get("versions") or {}).get(k) or DASH) for p in provs])
    out.append(Table(head, rows, "ll" + "l" * (len(head) - 2)))
    return out + _timings_blocks(runs, metas) + _config_blocks(runs, metas)


def _timings_blocks(runs: list[Run], metas: list[dict]) -> list:
    """Time per stage from run.json (a skipped stage shows its last run's time)."""
    out: list = []
    multi = len(runs) > 1
    timings = [m.get("timings") if isinstance(m.get("timings"), dict) else {} for m in metas]
    stages: list[str] = []
    for t in timings:
        stages += [k for k in t if k not in stages]
    if stages:
        out.append(Para("**Time per stage** (wall clock, seconds or min:s; a skipped stage shows its last run's time)"))
        trows = [[s] + [duration(t[s]) if s in t else DASH for t in timings] for s in stages]
        trows.append(["**total**"] + [duration(sum(v for v in t.values() if isinstance(v, (int, float))))
                                      if t else DASH for t in timings])
        out.append(Table(["Stage"] + ([r.label for r in runs] if multi else ["Time"]), trows))
    else:
        out.append(Para("No per-stage timings (run.json missing or without `timings`)."))
    return out


def _config_blocks(runs: list[Run], metas: list[dict]) -> list:
    """The resolved configuration: keys that differ between runs first, then every key (collapsed in HTML)."""
    out: list = []
    multi = len(runs) > 1
    sources = []
    for r, m in zip(runs, metas):
        cfg = {}
        if isinstance(m.get("config"), dict):
            cfg["run"] = m["config"]
        if r.data_config:
            cfg["data"] = r.data_config
        if r.train_meta and isinstance(r.train_meta.get("config"), dict):
            cfg["train"] = r.train_meta["config"]
        for side in ("base", "tuned"):
            ev = getattr(r, side)
            if ev is not None and isinstance(ev.doc.get("config"), dict):
                cfg[f"eval_{side}"] = ev.doc["config"]
        sources.append(dict(flat(cfg)))
    keys: list[str] = []
    for s in sources:
        keys += [k for k in s if k not in keys]
    if keys:
        if multi:
            diff = [k for k in keys if len({s.get(k, DASH) for s in sources}) > 1]
            if diff:
                out.append(Para("**Configuration that differs between runs**"))
                out.append(Table(["Key"] + [r.label for r in runs],
                                 [[f"`{k}`"] + [s.get(k, DASH) for s in sources] for k in diff]))
            else:
                out.append(Para("The runs' resolved configurations are identical."))
        out.append(Details("Resolved configuration (all keys)",
                           [Table(["Key"] + ([r.label for r in runs] if multi else ["Value"]),
                                  [[f"`{k}`"] + [s.get(k, DASH) for s in sources] for k in keys], "l" * (1 + len(runs)))]))
    return out
