"""Export symtune's evaluation prompts as lm-evaluation-harness tasks (for cross-checking).

One task per (suite, setting, task): DIR/<name>.jsonl holds the docs (prompt, options, gold, ...)
and DIR/<name>.yaml the task config (doc_to_text: prompt, doc_to_choice: options,
doc_to_target: gold, target_delimiter " "), tagged `symtune_<suite>`. The prompts are byte for byte
those `symtune eval` scores with the same options (seed, k, limit, tasks, tokenizer).

    symtune export lm-eval --suite icl --out lm_eval_tasks
    lm_eval --model hf --model_args pretrained=<model dir> --include_path lm_eval_tasks --tasks symtune_icl
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

from symtune.eval.config import EvalConfig


def task_name(suite: str, setting: str, task: str) -> str:
    name = f"symtune_{suite}_{setting}_{task}" if setting != task else f"symtune_{suite}_{task}"
    return re.sub(r"[^A-Za-z0-9_]", "_", name.replace("+", "_"))


def export_lm_eval(cfg: EvalConfig, out_dir: str | Path) -> dict:
    from symtune import ownership
    from symtune.eval.runner import prepare
    from symtune.paths import check_output

    out = check_output(out_dir, kind="folder", option="--out")
    items, notes, tok, encoder, max_len, model_path = prepare(cfg)  # all errors before writing
    groups: dict = defaultdict(list)
    for it in items:
        groups[(it.suite, it.setting, it.task)].append(it)
    with ownership.locked(out):
        # every file claimed before the first is written: a user's file of one of these names (their
        # README.md) stops the export with nothing changed
        names = [task_name(*key) + ext for key in groups for ext in (".jsonl", ".yaml")]
        ownership.claim(out, *names, "README.md")
        return _write(cfg, out, groups, notes)


def _write(cfg: EvalConfig, out: Path, groups: dict, notes: dict) -> dict:
    from symtune.provenance import text_hash, write_jsonl_atomic, write_text_atomic

    written = {}
    for (suite, setting, task), its in groups.items():
        name = task_name(suite, setting, task)
        docs = [{"doc_id": it.doc_id, "setting": it.setting, "task": it.task, "key": it.key,
                 "prompt": it.prompt, "prompt_hash": text_hash(it.prompt), "options": it.options,
                 "gold": it.gold} for it in its]
        data_file = (out / f"{name}.jsonl").resolve()
        conf: dict = {
            "task": name,
            "tag": [f"symtune_{suite}", "symtune"],
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(data_file)}},
            "test_split": "test",
            "doc_to_text": "prompt",
            "doc_to_target": "gold",
            "num_fewshot": 0,
            "metadata": {"version": 1.0, "symtune_seed": cfg.seed, "symtune_k": cfg.k},
        }
        if its[0].open_ended:
            conf.update({
                "output_type": "generate_until",
                "target_delimiter": "",
                "generation_kwargs": {"until": ["\n"], "do_sample": False, "max_gen_toks": cfg.max_new_tokens},
                "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                                 "regexes_to_ignore": ["^\\s+", "\\s+$"]}],
            })
        else:
            conf.update({
                "output_type": "multiple_choice",
                "doc_to_choice": "options",
                "target_delimiter": " ",
                "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                                {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}],
            })
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl_atomic(data_file, docs)
        write_text_atomic(out / f"{name}.yaml", yaml.safe_dump(conf, sort_keys=False, allow_unicode=True))
        written[name] = len(docs)
    tags = sorted({f"symtune_{s}" for s, _, _ in groups})
    readme = (
        "# symtune prompts as lm-evaluation-harness tasks\n\n"
        f"Exported by `symtune export lm-eval` (suite {cfg.suite}, seed {cfg.seed}, k {cfg.k}, limit {cfg.limit}, "
        f"tokenizer of {cfg.model}). {sum(written.values())} docs in {len(written)} tasks.\n\n"
        "```\nlm_eval --model hf --model_args pretrained=<model folder> --include_path "
        f"{out} --tasks {','.join(tags)} --log_samples --output_path <dir>\n```\n\n"
        "Note: lm-eval's acc_norm divides by the option's characters; symtune's acc_norm divides by its tokens.\n")
    write_text_atomic(out / "README.md", readme)
    return {"tasks": written, "tags": tags, "notes": notes}
