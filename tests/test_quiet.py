"""Known library noise is silenced only where it is raised; real warnings still reach the user."""

import warnings

import pytest

from symtune.quiet import known_noise_filtered

NOISE = "is_gradient_checkpointing"


def _noise(records):
    return [r for r in records if NOISE in str(r.message)]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir)


def test_filter_is_precise_and_scoped(tiny):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with known_noise_filtered():
            tiny.is_gradient_checkpointing  # the real FutureWarning from transformers.modeling_utils
            warnings.warn("something is really wrong", UserWarning)
            # the same text from another module is not the known noise
            warnings.warn_explicit(f"`{NOISE}` is deprecated", FutureWarning, "other.py", 1, module="mylib")
            warnings.warn("`is_gradient_checkpointing` is deprecated", DeprecationWarning)  # other category
        tiny.is_gradient_checkpointing  # outside the block: shown as before
    kinds = [(r.category, str(r.message)[:30]) for r in rec]
    assert (UserWarning, "something is really wrong") in kinds
    assert len(_noise(rec)) == 3  # mylib's, the DeprecationWarning, and the one outside the block
    assert sum(r.category is FutureWarning and r.filename.endswith("modeling_utils.py") for r in _noise(rec)) == 1


def test_training_shows_real_warnings_but_not_the_noise(tiny_model_dir, tmp_path):
    from transformers import TrainerCallback

    from symtune.train import run_training
    from helpers import train_cfg as _cfg, sym_rows as _rows, write_jsonl as _write

    class Warns(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            warnings.warn("a real problem during training", RuntimeWarning)

    data = _write(tmp_path / "rows.jsonl", _rows(4))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run_training(_cfg(tiny_model_dir, data, tmp_path / "o", steps=1), extra_callbacks=[Warns()], quiet=True)
    assert not _noise(rec), [str(r.message) for r in _noise(rec)]
    assert any("a real problem during training" in str(r.message) for r in rec)


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_bundled_model_adapter_loads_without_the_noise(bundled_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model

    from symtune.adapters import apply_adapter
    from symtune.models import load_model

    lora = get_peft_model(load_model(bundled_model_dir), LoraConfig(r=2, target_modules=["q_proj"]))
    lora.save_pretrained(str(tmp_path / "a"))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        apply_adapter(load_model(bundled_model_dir), str(tmp_path / "a"))
    assert not _noise(rec)
