import pytest

from symtune.config import from_dict, resolve_config
from symtune.data.config import DataConfig
from symtune.errors import SymtuneError


def test_yaml_and_overrides(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("n_prompts: 50\nseed: 3\nsymbol_families: [int, word]\n")
    cfg = resolve_config(DataConfig, y, {"seed": 9, "max_length": None})
    assert cfg.n_prompts == 50 and cfg.seed == 9 and cfg.symbol_families == ["int", "word"]
    assert cfg.max_length == DataConfig().max_length


def test_unknown_key_and_wrong_type(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("n_promts: 50\n")
    with pytest.raises(SymtuneError, match="unknown key.*n_promts"):
        resolve_config(DataConfig, y)
    with pytest.raises(SymtuneError, match="'n_prompts' must be an integer"):
        from_dict(DataConfig, {"n_prompts": "many"})
    with pytest.raises(SymtuneError, match="label_mode"):
        from_dict(DataConfig, {"label_mode": "flipped"})
    with pytest.raises(SymtuneError, match="does not exist"):
        resolve_config(DataConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(SymtuneError, match="mapping"):
        resolve_config(DataConfig, bad)


def test_cli_error_is_one_line_exit_2(tmp_path, capsys):
    from symtune.cli import main

    y = tmp_path / "c.yaml"
    y.write_text("bogus: 1\n")
    assert main(["data", "--config", str(y), "--preview", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bogus" in err


def test_every_verb_has_help(capsys):
    from symtune.cli import VERBS, build_parser, main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    parser = build_parser()
    sub = [a for a in parser._actions if a.dest == "verb"][0]
    for verb in sub.choices:
        with pytest.raises(SystemExit) as e:
            main([verb, "--help"])
        assert e.value.code == 0
    assert list(sub.choices) == list(VERBS)  # every verb is registered (a verb failing to import fails here)
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    for verb in VERBS:
        assert verb in listed
