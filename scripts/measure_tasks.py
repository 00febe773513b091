"""Measure natural-label ICL of the bundled model on bundled tasks (used to pick the default suites).

    python scripts/measure_tasks.py [--tasks a,b] [--n 48] [--k 4] [--out measure.json] [--update-yaml]

Per task: n class-balanced queries from the query split (seeded), each with k exemplars per class
from the exemplar split (shuffled), in the format `Input: x\nOutput: label\n\n` ... `Input: q\nOutput:`
(no instruction; pair inputs joined by a newline). Each option " label" is scored by its summed
log-prob (one prompt forward with a KV cache, then one forward per option; the cache is cropped back).
Reports accuracy, chance (1/classes) and the share of the most frequent prediction. A task with
`classes_per_prompt` (`sources`, `multiemo_lang_sub`) shows a random lo..hi of its classes per query, the
query's among them, as in its tuning prompts; its options are those classes and its chance their mean 1/k.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from symtune.tasks import registry


def fmt_input(ex) -> str:
    return ex.text if ex.text_pair is None else f"{ex.text}\n{ex.text_pair}"


def prompt_classes(task, gold: int, rng: random.Random) -> list[int]:
    """Every class, or for a task with `classes_per_prompt` (e.g. `sources`) a random lo..hi of them that
    includes the query's class, as the data builder shows it in tuning prompts."""
    if not task.classes_per_prompt:
        return list(range(task.num_classes))
    lo, hi = task.classes_per_prompt
    others = [c for c in range(task.num_classes) if c != gold]
    return sorted([gold] + rng.sample(others, rng.randint(lo, min(hi, task.num_classes)) - 1))


def build_prompt(task, query, rng: random.Random, k: int, classes: list[int] | None = None) -> str:
    groups = task.by_class(task.exemplar_split)
    shots = []
    for c, g in enumerate(groups):
        if classes is not None and c not in classes:
            continue
        pool = [e for e in g if e != query]
        shots += [(e, c) for e in rng.sample(pool, min(k, len(pool)))]
    rng.shuffle(shots)
    parts = [f"Input: {fmt_input(e)}\nOutput: {task.labels[c]}\n\n" for e, c in shots]
    return "".join(parts) + f"Input: {fmt_input(query)}\nOutput:"


def score_options(model, tok, prompt: str, options: list[str]) -> list[float]:
    import torch

    ids = tok(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model(ids, use_cache=True)
        cache = out.past_key_values
        first = torch.log_softmax(out.logits[0, -1].float(), -1)
        n = ids.shape[1]
        scores = []
        for opt in options:
            oid = tok(" " + opt, add_special_tokens=False).input_ids
            s = first[oid[0]].item()
            if len(oid) > 1:
                o = model(torch.tensor([oid[:-1]]), past_key_values=cache, use_cache=True)
                lp = torch.log_softmax(o.logits[0].float(), -1)
                s += sum(lp[i, oid[i + 1]].item() for i in range(len(oid) - 1))
                cache.crop(-(len(oid) - 1))  # drop the option tokens again
                assert cache.get_seq_length() == n
            scores.append(s)
    return scores


def measure(task, model, tok, n: int, k: int, seed: int) -> dict:
    rng = random.Random(f"{seed}-{task.name}")
    groups = task.by_class(task.query_split)
    per = math.ceil(n / task.num_classes)
    queries = []
    for c, g in enumerate(groups):
        queries += [(e, c) for e in rng.sample(g, min(per, len(g)))]
    rng.shuffle(queries)
    preds, correct, lens, chance = [], 0, [], 0.0
    for q, c in queries:
        classes = prompt_classes(task, c, rng)
        prompt = build_prompt(task, q, rng, k, classes)
        lens.append(len(tok(prompt).input_ids))
        s = score_options(model, tok, prompt, [task.labels[x] for x in classes])
        p = classes[max(range(len(s)), key=s.__getitem__)]
        preds.append(p)
        correct += p == c
        chance += 1 / len(classes)
    m = len(queries)
    acc = correct / m
    return {"acc": round(acc, 3), "n": m, "k": k, "chance": round(chance / m, 3),
            "majority_share": round(Counter(preds).most_common(1)[0][1] / m, 2),
            "se": round(math.sqrt(acc * (1 - acc) / m), 3), "mean_prompt_tokens": round(sum(lens) / m)}


def main() -> None:
    import torch

    from symtune.models import load_model, load_tokenizer

    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="")
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--out", default="measure.json")
    ap.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"),
                    help="bfloat16 (the stored measurements); float32 on a CPU without native bf16, where bf16 "
                         "is emulated and many times slower")
    ap.add_argument("--update-yaml", action="store_true", help="write `measured` into tasks/bundled.yaml")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load_model(args.model, dtype=args.dtype)
    tok = load_tokenizer(args.model)
    names = [t for t in args.tasks.split(",") if t] or [t.name for t in registry.list_tasks()]
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.is_file() else {}
    for name in names:
        t0 = time.perf_counter()
        task = registry.get_task(name)
        r = measure(task, model, tok, args.n, args.k, args.seed)
        r["seconds"] = round(time.perf_counter() - t0, 1)
        results[name] = r
        print(f"{name:26s} acc {r['acc']:.3f} ± {r['se']:.3f} chance {r['chance']:.2f} "
              f"majority {r['majority_share']:.2f} tokens {r['mean_prompt_tokens']} ({r['seconds']} s)", flush=True)
        out_path.write_text(json.dumps(results, indent=1))
    if args.update_yaml:
        data = yaml.safe_load(registry.BUNDLED_YAML.read_text(encoding="utf-8"))
        for spec in data["tasks"]:
            if spec["name"] in results:
                r = results[spec["name"]]
                spec["measured"] = {k: r[k] for k in ("acc", "se", "chance", "majority_share", "n", "k", "mean_prompt_tokens")}
                dt = {"bfloat16": "bf16", "float32": "fp32"}[args.dtype]
                spec["measured"]["model"] = f"{args.model} {dt}, natural labels, no instruction"
        registry.BUNDLED_YAML.write_text(yaml.safe_dump(data, sort_keys=False, width=120, allow_unicode=True),
                                         encoding="utf-8")


if __name__ == "__main__":
    from symtune.errors import script_main

    sys.exit(script_main(main))
