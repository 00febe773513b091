"""experiments/*.yaml: every arm resolves, passes the run's checks, names its command, shares the base evaluation."""

from pathlib import Path

import pytest

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
