"""Task registry, bundled data, user files, Hub-style datasets (all offline)."""

from __future__ import annotations

import json

import pytest

from symtune.errors import SymtuneError
from symtune.tasks import registry
from symtune.tasks.base import Example, Task
from symtune.tasks.registry import (default_eval_tasks, default_tune_tasks, get_task, list_tasks, load_algorithmic,
                                    load_task_config, task_from_file, task_from_hf)


# ------------------------------------------------------------------ bundled registry
def test_registry_sizes_and_roles():
    tune, ev = list_tasks("tune"), list_tasks("eval")
    assert len(default_tune_tasks()) >= 12
    assert len(default_eval_tasks()) >= 7
    assert {t.name for t in tune}.isdisjoint({t.name for t in ev})
    assert all(t.role == "tune" for t in tune) and all(t.role == "eval" for t in ev)
    assert len(list_tasks()) == len(tune) + len(ev)
    assert len({t.task_type for t in default_tune_tasks()}) >= 5


def test_roles_never_share_a_data_file():
    files = {"tune": set(), "eval": set()}
    for t in list_tasks():
        files[t.role].update(registry.data_files(t.name))  # a derived task (sources): its sources' files
    assert files["tune"].isdisjoint(files["eval"])
    assert set(registry.data_files("sources")) <= files["tune"]


def test_sources_task_labels_are_tuning_datasets_and_texts_their_tuning_splits():
    """`sources`: label c = the c-th source tuning task; each split's texts are exactly that source's texts of
    the matching split (train = its exemplar split, the one the data builder draws from), never another's."""
    t = get_task("sources")
    spec = registry.task_info("sources")
    names = [s["task"] for s in spec["sources"]]
    assert t.role == "tune" and t.classes_per_prompt == (2, 5) and len(t.labels) == len(names) >= 15
    assert all(get_task(n).role == "tune" for n in names) and len({registry.data_files(n)[0] for n in names}) == len(names)
    eval_texts = {e.text for task in list_tasks("eval") for sp in ("train", "validation") for e in task.examples(sp)}
    for split, attr in (("train", "exemplar_split"), ("validation", "query_split")):
        exs = t.examples(split)
        assert {e.label for e in exs} == set(range(len(names)))
        own = [{e.text if e.text_pair is None else f"{e.text}\n{e.text_pair}"
                for e in get_task(n).examples(getattr(get_task(n), attr))} for n in names]
        for e in exs:
            assert e.text in own[e.label] and e.text_pair is None
            assert not any(e.text in own[c] for c in range(len(names)) if c != e.label)
        assert not eval_texts & {e.text for e in exs}
    assert get_task("multiemo_lang_sub").classes_per_prompt == (2, 5)


@pytest.mark.parametrize("task", list_tasks(), ids=lambda t: t.name)
def test_bundled_task_is_usable(task: Task):
    assert task.num_classes >= 2 and len(set(task.labels)) == task.num_classes
    assert task.instruction.strip() and task.source and task.licence
    ex_groups = task.by_class(task.exemplar_split)
    q_groups = task.by_class(task.query_split)
    assert min(len(g) for g in ex_groups) >= 10, [len(g) for g in ex_groups]
    assert min(len(g) for g in q_groups) >= 10, [len(g) for g in q_groups]
    for ex in task.examples(task.exemplar_split)[:50]:
        assert isinstance(ex, Example) and isinstance(ex.label, int) and 0 <= ex.label < task.num_classes
        assert ex.text.strip()
        assert (ex.text_pair is not None) == task.pair
        assert len(ex.text) + len(ex.text_pair or "") <= 400
    # exemplar and query splits do not share inputs
    seen = {(e.text, e.text_pair) for e in task.examples(task.exemplar_split)}
    assert not any((e.text, e.text_pair) in seen for e in task.examples(task.query_split))


def test_default_eval_suite_was_measured_above_chance():
    for t in default_eval_tasks():
        m = registry.task_info(t.name).get("measured")
        assert m, f"{t.name} has no measurement"
        assert m["acc"] > m["chance"], t.name


def test_unknown_task_and_split():
    with pytest.raises(SymtuneError, match="unknown task 'bbc_sprot'.*bbc_sport_business"):
        get_task("bbc_sprot")
    with pytest.raises(SymtuneError, match="unknown role"):
        list_tasks("train")
    with pytest.raises(SymtuneError, match="unknown split 'test'"):
        get_task("tweets_pn").examples("test")


def test_get_tasks_groups():
    names = [t.name for t in registry.get_tasks("default-eval,fever")]
    assert names[-1] == "fever" and len(names) == len(default_eval_tasks()) + 1


def test_bundled_data_size_is_small():
    total = sum(p.stat().st_size for p in registry.DATA_DIR.glob("*.jsonl.gz"))
    assert total < 6_000_000


# ------------------------------------------------------------------ algorithmic data
def test_list_functions():
    recs = load_algorithmic("list_functions")
    assert [r["name"] for r in recs] == [f"c{i:03d}" for i in range(1, 251)]
    assert all(len(r["examples"]) == 32 for r in recs)
    assert "remove all but element 3" in recs[0]["description"]
    assert recs[0]["examples"][0] == {"input": "[3, 4, 1, 5, 2, 0, 8, 6, 9]", "target": "[1]"}


def test_simp_turing_concept():
    recs = load_algorithmic("simp_turing_concept")
    assert len(recs) == 2130
    small = {r["program"] for r in recs if r["n_instructions"] <= 3}
    assert len(small) == 17
    assert {"o", "+o", "ooo", "o>o"} <= small
    assert sum(r["n_instructions"] <= 3 for r in recs) == 85
    assert all(r["input"].endswith("Output:") and r["comment"] for r in recs)
    with pytest.raises(SymtuneError, match="unknown algorithmic task"):
        load_algorithmic("list_function")


# ------------------------------------------------------------------ user files
ROWS = [{"sentence": f"text number {i}", "other": f"pair {i}", "y": "pos" if i % 2 else "neg", "part": "train" if i < 16 else "dev"}
        for i in range(20)]


def _write(tmp_path, fmt: str, rows=ROWS):
    if fmt == "csv":
        p = tmp_path / "d.csv"
        cols = list(rows[0])
        p.write_text(",".join(cols) + "\n" + "".join(",".join(str(r[c]) for c in cols) + "\n" for r in rows),
                     encoding="utf-8")
    elif fmt == "jsonl":
        p = tmp_path / "d.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = tmp_path / "d.parquet"
        pq.write_table(pa.Table.from_pylist(rows), p)
    return p


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_task_from_file_formats(tmp_path, fmt):
    p = _write(tmp_path, fmt)
    t = task_from_file(p, text_col="sentence", label_col="y", text_pair_col="other", name="mine",
                       instruction="Is it pos or neg?")
    assert t.name == "mine" and t.labels == ["neg", "pos"] and t.pair and t.role == "eval"
    tr, va = t.examples("train"), t.examples("validation")
    assert len(tr) + len(va) == 20 and len(va) == 4
    assert [len(g) for g in t.by_class("validation")] == [2, 2]
    assert all(e.text_pair.startswith("pair ") for e in tr)
    # seeded: the same split again
    t2 = task_from_file(p, text_col="sentence", label_col="y", text_pair_col="other")
    assert t2.examples("validation") == va
    # explicit split column (dev -> validation)
    t3 = task_from_file(p, text_col="sentence", label_col="y", split_col="part")
    assert len(t3.examples("train")) == 16 and len(t3.examples("validation")) == 4


def test_task_from_file_int_labels(tmp_path):
    rows = [{"t": f"x{i}", "l": i % 3} for i in range(30)]
    t = task_from_file(_write(tmp_path, "jsonl", rows), text_col="t", label_col="l")
    assert t.labels == ["0", "1", "2"]
    assert {e.label for e in t.examples("train")} == {0, 1, 2}


def test_task_from_file_errors(tmp_path):
    with pytest.raises(SymtuneError, match="does not exist"):
        task_from_file(tmp_path / "nope.csv", text_col="a", label_col="b")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SymtuneError, match="is empty"):
        task_from_file(empty, text_col="a", label_col="b")
    header_only = tmp_path / "header.csv"
    header_only.write_text("sentence,y\n")
    with pytest.raises(SymtuneError, match="no rows"):
        task_from_file(header_only, text_col="sentence", label_col="y")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("sentence,y\ncaf\xe9,a\nb,b\n".encode("latin-1"))
    with pytest.raises(SymtuneError, match="not UTF-8"):
        task_from_file(latin, text_col="sentence", label_col="y")
    p = _write(tmp_path, "csv")
    with pytest.raises(SymtuneError, match=r"label column 'label' not found; available columns: sentence, other, y, part"):
        task_from_file(p, text_col="sentence", label_col="label")
    with pytest.raises(SymtuneError, match="text column 'txt' not found"):
        task_from_file(p, text_col="txt", label_col="y")
    one = _write(tmp_path, "jsonl", [{"sentence": f"s{i}", "y": "same"} for i in range(5)])
    with pytest.raises(SymtuneError, match="has 1 class"):
        task_from_file(one, text_col="sentence", label_col="y")
    bad = tmp_path / "d.xlsx"
    bad.write_text("x")
    with pytest.raises(SymtuneError, match="unsupported extension"):
        task_from_file(bad, text_col="a", label_col="b")


@pytest.mark.parametrize("verb", [["eval", "--task-file"], ["data", "--task-files"]])
def test_task_from_file_errors_are_one_line_in_cli(tmp_path, capsys, verb):
    from symtune.cli import main

    missing = tmp_path / "x.csv"
    wrong_col = tmp_path / "y.csv"
    wrong_col.write_text("sentence,y\na,0\nb,1\n")
    for path, message in ((missing, "does not exist"), (wrong_col, "text")):
        rc = main([verb[0], verb[1], str(path), "--out", str(tmp_path / "out" / verb[0])])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "\n" not in err and message in err and str(path) in err, err
        assert "Traceback" not in err and not (tmp_path / "out").exists()


# ------------------------------------------------------------------ Hub-style datasets (local, offline)
@pytest.fixture()
def local_hf_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    feats = datasets.Features({"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    for split, n in (("train", 20), ("validation", 6)):
        d = datasets.Dataset.from_dict({"sentence": [f"{split} s{i}" for i in range(n)],
                                        "label": [i % 2 for i in range(n)]}, features=feats)
        d.to_parquet(str(tmp_path / f"{split}.parquet"))
    return {"train": str(tmp_path / "train.parquet"), "validation": str(tmp_path / "validation.parquet")}


def test_task_from_hf_local(local_hf_dataset):
    t = task_from_hf("parquet", text_col="sentence", label_col="label", data_files=local_hf_dataset, name="local")
    assert t.labels == ["neg", "pos"]  # from the ClassLabel feature
    assert len(t.examples("train")) == 20 and len(t.examples("validation")) == 6
    assert t.examples("train")[1] == Example("train s1", 1, None)
    # explicit names: lazy, nothing loaded until examples are requested
    t2 = task_from_hf("parquet", text_col="sentence", label_col="label", data_files=local_hf_dataset,
                      label_names=["negative", "positive"], max_examples=4)
    assert t2.labels == ["negative", "positive"] and len(t2.examples("train")) == 4
    with pytest.raises(SymtuneError, match="no split 'test'"):
        t2.examples("test")
    t3 = task_from_hf("parquet", text_col="nope", label_col="label", data_files=local_hf_dataset,
                      label_names=["a", "b"])
    with pytest.raises(SymtuneError, match="column 'nope' not found"):
        t3.examples("train")


def test_task_from_hf_save_to_disk_and_label_values(tmp_path):
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict({s: datasets.Dataset.from_dict({"q": [f"{s}{i}" for i in range(8)],
                                                               "o1": ["a"] * 8, "ans": ["1", "2", "", "2"] * 2})
                               for s in ("train", "validation")})
    dd.save_to_disk(str(tmp_path / "dd"))
    t = task_from_hf("arrow", text_col=["q", "o1"], label_col="ans", label_values=["1", "2"],
                     label_names=["choice 1", "choice 2"],
                     data_files={s: str(next((tmp_path / "dd" / s).glob("*.arrow"))) for s in ("train", "validation")})
    ex = t.examples("train")
    assert len(ex) == 6 and ex[0] == Example("train0\na", 0, None) and ex[1].label == 1


def test_task_from_hf_missing_dataset_is_one_line():
    t = task_from_hf("no-such-owner/no-such-dataset-xyz", label_names=["a", "b"])
    with pytest.raises(SymtuneError, match="cannot load dataset 'no-such-owner/no-such-dataset-xyz'"):
        t.examples("train")


def test_paper_config_resolves_without_network():
    tasks = load_task_config("paper")
    tune = [t for t in tasks if t.role == "tune"]
    ev = [t for t in tasks if t.role == "eval"]
    assert len(tune) == 22 and len(ev) == 11
    assert len({t.name for t in tasks}) == 33
    assert all(t.num_classes >= 2 and t.instruction for t in tasks)
    assert {t.name for t in ev} == {"subj", "teh", "teab", "teat", "tefe", "tehi", "adec", "or", "sot", "tos", "tc"}
    assert get_names(load_task_config("paper", role="eval")) == get_names(ev)
    teab = next(t for t in ev if t.name == "teab")
    assert teab.instruction == "Read the following tweet and determine its stance on abortion."


def get_names(tasks):
    return [t.name for t in tasks]


def test_task_config_file_errors(tmp_path):
    with pytest.raises(SymtuneError, match="does not exist"):
        load_task_config(tmp_path / "x.yaml")
    p = tmp_path / "c.yaml"
    p.write_text("tasks:\n- {name: a, role: eval, dataset: x, labels: [a, b], colour: red}\n")
    with pytest.raises(SymtuneError, match="unknown key"):
        load_task_config(p)
    p.write_text("tasks:\n- {bundled: fever, role: eval}\n- {name: a, role: tune, dataset: x, labels: [a, b]}\n")
    ts = load_task_config(p)
    assert [t.name for t in ts] == ["fever", "a"] and ts[0].role == "eval"


# ------------------------------------------------------------------ CLI
def test_cli_tasks(capsys):
    from symtune.cli import main

    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["name", "role", "type", "classes", "train", "eval", "ICL", "(chance,", "n)"]
    assert "snips_3way *" in out and "tweets_pn  " in out and "fever" in out
    # the measured natural-label ICL (bundled.yaml `measured`), '-' where not measured
    domain = next(line for line in out.splitlines() if line.startswith("multiemo_domain"))
    assert domain.endswith("0.67 (0.25, n=12)")
    assert next(line for line in out.splitlines() if line.startswith("multiemo_sentiment4")).endswith(" -")
    assert main(["tasks", "--role", "eval"]) == 0
    out = capsys.readouterr().out
    assert "fever" not in out and "bbc_sport_business" in out
    assert main(["tasks", "--config", "paper"]) == 0
    out = capsys.readouterr().out
    assert "33 tasks (22 tune, 11 eval)" in out
    assert main(["tasks", "--config", "nope.yaml"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_one_task_selection_rule_for_tuning_and_evaluation():
    """tasks/select.py decides for both stages: groups expand, a name twice is one line, roles filter."""
    from symtune.data.config import DataConfig
    from symtune.data.run import resolve_tasks as tune_tasks
    from symtune.errors import SymtuneError
    from symtune.eval.build import resolve_tasks as eval_tasks
    from symtune.eval.config import EvalConfig
    from symtune.tasks.registry import default_eval_tasks, default_tune_tasks

    assert [t.name for t in eval_tasks(EvalConfig())] == [t.name for t in default_eval_tasks()]
    assert [t.name for t in tune_tasks(DataConfig())] == [t.name for t in default_tune_tasks()]
    assert [t.name for t in eval_tasks(EvalConfig(tasks=["default-eval"]))] == [t.name for t in default_eval_tasks()]
    for resolve, cfg in ((eval_tasks, EvalConfig(tasks=["irony", "irony"])),
                         (tune_tasks, DataConfig(tasks=["multiemo_pn", "multiemo_pn"]))):
        with pytest.raises(SymtuneError, match="two tasks are named"):
            resolve(cfg)
