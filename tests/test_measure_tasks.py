"""scripts/measure_tasks.py on a task with its own classes per prompt (`sources`), with the tiny model."""

import importlib.util
import random
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "measure_tasks.py"


def _script():
    spec = importlib.util.spec_from_file_location("measure_tasks", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sources_prompts_show_2_to_5_classes_with_the_query_s(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from symtune.tasks.registry import get_task

    mt = _script()
    task = get_task("sources")
    rng = random.Random(0)
    for gold in range(task.num_classes):
        classes = mt.prompt_classes(task, gold, rng)
        assert gold in classes and 2 <= len(classes) <= 5 and classes == sorted(set(classes))
        prompt = mt.build_prompt(task, task.by_class("validation")[gold][0], rng, 1, classes)
        shown = {line[len("Output: "):] for line in prompt.splitlines() if line.startswith("Output: ")}
        assert shown == {task.labels[c] for c in classes}
    assert mt.prompt_classes(get_task("fever"), 1, rng) == [0, 1]  # a plain task: every class
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    r = mt.measure(task, model, tok, n=16, k=1, seed=0)
    assert r["n"] == 16 and 0.2 <= r["chance"] <= 0.5  # mean 1/k over 2..5 classes, not 1/16
