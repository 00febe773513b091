"""The report's formatting helpers and setting names (one home for every section and block).

    from symtune.report.fmt import DASH, pct, signed, interval
    pct(0.734) == "73.4"; signed(0.05) == "+5.0"; interval((-0.01, 0.08)) == "[-1.0, +8.0]"
"""

from __future__ import annotations

DASH = "–"
SETTING_ROWS = [  # (setting key, Table-1 row name, instruction, relevant labels)
    ("instr+labels", "Instr + labels", "yes", "yes"),
    ("labels", "Labels only", "no", "yes"),
    ("instr+symbols", "Instr + symbols", "yes", "no (symbols)"),
    ("symbols", "Symbols only (neither)", "no", "no (symbols)"),
]
SHORT_NAMES = {"instr+labels": "Instr + labels", "labels": "Labels only", "instr+symbols": "Instr + symbols",
               "symbols": "Symbols only", "flipped": "Flipped (paper)", "list_functions": "List Functions",
               "simp_turing_concept": "Simple Turing Concepts"}  # the measurement and contrast tables' row names


def pct(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:.1f}"


def signed(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:+.1f}"


def interval(ci) -> str:
    return DASH if ci is None else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def flat(d, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out += flat(v, key)
            else:
                out.append((key, value(v)))
    return out


def value(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(value(x) for x in v) if v else "[]"
    if v is None:
        return "null"
    return str(v)


def duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return str(seconds)
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d} min"


def num(x, unit: float = 1.0, fmt: str = "{:+.2f}") -> str:
    return DASH if x is None else fmt.format(round(x * unit, 6) + 0.0)  # + 0.0: no "-0.00"


def count_of(v) -> float:
    if isinstance(v, dict):
        v = v.get("count", v.get("n", 0))
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def count(v) -> str:
    if v is None:
        return DASH
    if isinstance(v, dict):
        v = v.get("count", v.get("n"))
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return value(v)
