"""Runner and CLI: output files, resume equivalence, adapters, export, bad input (one line, exit 2,
nothing written)."""

import json

import pytest
import torch

from symtune.cli import main
from symtune.eval.runner import run_eval
from helpers import eval_cfg as _cfg, error_lines as _errors, lora_adapter as _lora


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_outputs_follow_the_contract(tiny_model_dir, tmp_path):
    doc = run_eval(_cfg(tiny_model_dir), tmp_path / "a", log=lambda s: None)
    on_disk = json.loads((tmp_path / "a" / "results.json").read_text())
    for key in ("config", "provenance", "model", "adapter", "dtype", "batch_size", "results", "summary", "seeds"):
        assert key in on_disk
    m = on_disk["results"]["icl"]["labels"]["irony"]
    for key in ("acc", "acc_norm", "n", "ci95", "chance", "majority_share"):
        assert key in m
    assert m["n"] == 6 and m["chance"] == 0.5 and m["ci95"][0] <= m["acc"] <= m["ci95"][1]
    assert set(on_disk["summary"]) >= {"instr+labels", "labels", "instr+symbols", "symbols", "flipped",
                                       "list_functions", "simp_turing_concept", "chance"}
    assert on_disk["summary"]["labels"] == m["acc"] and on_disk["summary"]["chance"]["symbols"] == 0.5
    rows = _rows(tmp_path / "a" / "samples_icl_irony.jsonl")
    assert len(rows) == 12
    for r in rows:
        for key in ("doc_id", "setting", "prompt_hash", "prompt", "options", "option_tokens", "logprobs",
                    "pred", "pred_norm", "gold"):
            assert key in r
        assert r["pred"] == max(range(2), key=lambda i: r["logprobs"][i])
    assert doc["results"] == on_disk["results"]


def test_resume_continues_and_matches_uninterrupted_run(tiny_model_dir, tmp_path):
    cfg = _cfg(tiny_model_dir)
    full = run_eval(cfg, tmp_path / "full", log=lambda s: None)

    def stop(n):
        if n == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_eval(cfg, tmp_path / "part", on_chunk=stop, log=lambda s: None)
    assert not (tmp_path / "part" / "results.json").exists()
    assert len(_rows(tmp_path / "part" / "samples_icl_irony.jsonl")) == 4  # one chunk stored
    # a killed writer can leave a truncated line: it is dropped on restart
    with open(tmp_path / "part" / "samples_icl_irony.jsonl", "a") as fh:
        fh.write('{"doc_id": 3, "sett')
    resumed = run_eval(cfg, tmp_path / "part", log=lambda s: None)
    assert resumed["n_resumed"] == 4 and resumed["n_scored_this_run"] == 8
    assert resumed["results"] == full["results"] and resumed["summary"] == full["summary"]
    a = _rows(tmp_path / "full" / "samples_icl_irony.jsonl")
    b = _rows(tmp_path / "part" / "samples_icl_irony.jsonl")
    assert [(r["setting"], r["doc_id"], r["prompt"], r["pred"]) for r in a] == \
        [(r["setting"], r["doc_id"], r["prompt"], r["pred"]) for r in b]
    for x, y in zip(a, b):
        assert x["logprobs"] == pytest.approx(y["logprobs"], abs=1e-5)
    # a finished run restarted with the same arguments scores nothing
    again = run_eval(cfg, tmp_path / "part", log=lambda s: None)
    assert again["n_scored_this_run"] == 0 and again["results"] == full["results"]


def test_generate_scoring_and_algorithmic_suite(tiny_model_dir, tmp_path):
    out = tmp_path / "g"
    rc = main(["eval", "--model", tiny_model_dir, "--suite", "all", "--tasks", "irony,snips_3way", "--limit", "1",
               "--k", "2", "--scoring", "generate", "--max-new-tokens", "4", "--threads", "1", "--no-progress",
               "--out", str(out)])
    assert rc == 0
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["results"]) == {"icl", "flipped", "algorithmic"}
    assert doc["summary"]["metric"] == "acc_gen" and "acc_gen" in doc["results"]["icl"]["labels"]["irony"]
    assert doc["notes"]["flipped_skipped_non_binary"] == ["snips_3way"]
    assert len(doc["results"]["algorithmic"]["list_functions"]) == 20
    assert len(doc["results"]["algorithmic"]["simp_turing_concept"]) == 17
    assert set(doc["categories"]["list_functions"]) == {"remove_elements", "modify_list", "input_independent",
                                                        "add_insert_elements", "reorder_copy"}
    assert doc["summary"]["chance"]["list_functions"] == 0.0
    lf = _rows(out / "samples_algorithmic_list_functions.jsonl")
    assert all("generation" in r and r["options"] == [] for r in lf)
    icl = _rows(out / "samples_icl_irony.jsonl")
    assert all(isinstance(r["generation"], str) for r in icl)


def test_adapter_applied_and_mismatch_rejected(tiny_model_dir, tmp_path, capsys):
    import json

    adapter = _lora(tiny_model_dir, tmp_path / "lora", b_value=0.5)  # non-zero B: applying it must show
    run_eval(_cfg(tiny_model_dir, limit=2), tmp_path / "base", log=lambda s: None)
    tuned = run_eval(_cfg(tiny_model_dir, limit=2, adapter=adapter), tmp_path / "tuned", log=lambda s: None)
    assert tuned["adapter"] == adapter
    lp = {}
    for run in ("base", "tuned"):
        lp[run] = [r["logprobs"] for f in sorted((tmp_path / run).glob("samples_*.jsonl"))
                   for r in map(json.loads, f.read_text().splitlines())]
    assert len(lp["base"]) == len(lp["tuned"]) > 0
    diffs = [abs(a - b) for x, y in zip(lp["base"], lp["tuned"]) for a, b in zip(x, y)]
    assert max(diffs) > 1e-3  # the adapter was applied, not just loaded
    # the same adapter again gives the same scores (applied deterministically)
    again = run_eval(_cfg(tiny_model_dir, limit=2, adapter=adapter), tmp_path / "again", log=lambda s: None)
    assert again["results"] == tuned["results"]
    # an adapter for a different architecture
    from helpers import build_tiny_model

    other = build_tiny_model(tiny_model_dir, tmp_path / "other", hidden_size=48)
    bad = _lora(other, tmp_path / "bad_lora")
    out = tmp_path / "mismatch"
    rc = main(["eval", "--model", tiny_model_dir, "--adapter", bad, "--tasks", "irony", "--limit", "2",
               "--threads", "1", "--no-progress", "--out", str(out)])
    err = _errors(capsys)
    assert rc == 2 and len(err) == 1 and "does not match the model" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("args,message", [
    (["--suite", "bogus"], "unknown value 'bogus'"),
    (["--tasks", "no_such_task"], "unknown task 'no_such_task'"),
    (["--settings", "labels,bogus"], "unknown value 'bogus'"),
    (["--model", "/no/such/model"], "does not exist"),
    (["--adapter", "/no/such/adapter"], "adapter folder /no/such/adapter does not exist"),
    (["--k", "40"], "fewer than k=40"),
    (["--max-length", "60"], "raise --max-length"),
    (["--suite", "algorithmic", "--tasks", "irony"], "do not apply to the algorithmic suite"),
    (["--suite", "flipped", "--tasks", "snips_3way"], "needs binary tasks"),
])
def test_bad_input_one_line_exit_2_nothing_written(tiny_model_dir, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    argv = ["eval", "--model", tiny_model_dir, "--tasks", "irony", "--limit", "2", "--threads", "1",
            "--no-progress", "--out", str(out)]
    for i in range(0, len(args), 2):  # later options override
        if args[i] in argv:
            argv[argv.index(args[i]) + 1] = args[i + 1]
        else:
            argv += args[i:i + 2]
    rc = main(argv)
    err = _errors(capsys)
    assert rc == 2
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_changed_config_refused_unless_force(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "o"
    common = ["eval", "--model", tiny_model_dir, "--tasks", "irony", "--settings", "labels", "--limit", "2",
              "--threads", "1", "--no-progress", "--out", str(out)]
    assert main(common) == 0
    capsys.readouterr()
    assert main(common + ["--seed", "5"]) == 2
    assert "different eval configuration" in capsys.readouterr().err
    assert json.loads((out / "results.json").read_text())["config"]["seed"] == 0  # untouched
    assert main(common + ["--seed", "5", "--force"]) == 0
    assert json.loads((out / "results.json").read_text())["config"]["seed"] == 5
    assert main(common + ["--seed", "5", "--batch-size", "1"]) == 0  # runtime options do not count


def test_export_lm_eval_matches_eval_prompts(tiny_model_dir, tmp_path):
    import yaml

    ev = tmp_path / "ev"
    ex = tmp_path / "ex"
    common = ["--model", tiny_model_dir, "--tasks", "irony", "--limit", "3", "--k", "2"]
    assert main(["eval", *common, "--threads", "1", "--no-progress", "--out", str(ev)]) == 0
    assert main(["export", "lm-eval", *common, "--out", str(ex)]) == 0
    conf = yaml.safe_load((ex / "symtune_icl_instr_symbols_irony.yaml").read_text())
    assert conf["output_type"] == "multiple_choice" and conf["doc_to_choice"] == "options"
    assert conf["doc_to_text"] == "prompt" and conf["doc_to_target"] == "gold" and conf["target_delimiter"] == " "
    docs = _rows(ex / "symtune_icl_instr_symbols_irony.jsonl")
    rows = [r for r in _rows(ev / "samples_icl_irony.jsonl") if r["setting"] == "instr+symbols"]
    assert [(d["prompt"], d["options"], d["gold"]) for d in docs] == [(r["prompt"], r["options"], r["gold"])
                                                                      for r in rows]


def test_odd_task_names_round_trip_eval_to_report(tiny_model_dir, tmp_path):
    """The runner and the report name samples files through one function (eval/samples.py)."""
    from symtune.cli import main
    from symtune.eval.samples import samples_name
    from symtune.report import load_run

    csv = tmp_path / "my task+v2 (ß).csv"
    csv.write_text("text,label\n" + "".join(f"row number {i},{'xy'[i % 2]}\n" for i in range(30)))
    run = tmp_path / "run"
    for stage in ("eval_base", "eval_tuned"):
        assert main(["eval", "--model", tiny_model_dir, "--task-file", str(csv), "--settings", "labels", "--k", "1",
                     "--limit", "2", "--threads", "1", "--no-progress", "--out", str(run / stage)]) == 0
    name = "my task+v2 (ß)"
    assert (run / "eval_base" / samples_name("icl", name)).is_file()
    assert samples_name("icl", name) == "samples_icl_my_task+v2____.jsonl"
    r = load_run(run)
    rows = r.base.samples("icl", name)
    assert rows and {x["task"] for x in rows} == {name} and r.tuned.samples("icl", name) == rows
