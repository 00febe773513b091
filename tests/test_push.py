"""`symtune push` against a stand-in HfApi (no network): what is uploaded, and the one-line errors."""

from pathlib import Path

import pytest

from symtune.cli import main

from helpers import push_run_folder as _run_folder


class FakeApi:
    """Records create_repo / upload_folder calls and the files each upload would send."""

    calls: list = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, private=None, exist_ok=False, repo_type=None, **kw):
        FakeApi.calls.append(("create_repo", repo_id, private, exist_ok))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, repo_id, folder_path, path_in_repo=None, ignore_patterns=None, **kw):
        from huggingface_hub.utils import filter_repo_objects

        root = Path(folder_path)
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        sent = sorted(filter_repo_objects(files, ignore_patterns=ignore_patterns))
        FakeApi.calls.append(("upload_folder", repo_id, path_in_repo, sent, self.token))


@pytest.fixture()
def hub(monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    return FakeApi.calls


def test_push_run_folder_uploads_adapter_card_and_report(tmp_path, hub, capsys):
    out = _run_folder(tmp_path)
    assert main(["push", str(out), "--repo-id", "me/st-adapter", "--private"]) == 0
    assert hub[0] == ("create_repo", "me/st-adapter", True, True)
    _, repo, where, sent, token = hub[1]
    assert where is None and token == "hf_test_token"
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "symtune_train.json"} <= set(sent)
    assert not any(f.startswith("checkpoints") for f in sent)  # optimizer state stays local
    assert hub[2][2] == "report" and hub[2][3] == ["report.html"]
    card = (out / "train" / "README.md").read_text()
    assert "model-index" in card and "symbol-tuning" in card  # card refreshed with eval_tuned's results
    assert "https://huggingface.co/me/st-adapter" in capsys.readouterr().out


def test_push_adapter_folder_alone(tmp_path, hub):
    out = _run_folder(tmp_path) / "train"
    assert main(["push", str(out), "--repo-id", "me/only-adapter"]) == 0
    assert [c[0] for c in hub] == ["create_repo", "upload_folder"] and hub[0][2] is False
    sent = hub[1][3]
    for name in ("adapter_model.safetensors", "adapter_config.json", "README.md"):
        assert name in sent, sent  # the adapter, its config and its card go up
    assert not [f for f in sent if f.startswith("checkpoints/") or f.split("/")[-1].startswith(".")], sent


@pytest.mark.parametrize("case, pattern", [
    ("token", "no Hugging Face token"),
    ("repo", "not a valid Hub repository id"),
    ("empty", "holds no adapter"),
    ("offline", "HF_HUB_OFFLINE"),
])
def test_push_errors_are_one_line_exit_2(tmp_path, hub, monkeypatch, capsys, case, pattern):
    from huggingface_hub import constants

    out = _run_folder(tmp_path)
    repo = "me/ok"
    if case == "token":
        monkeypatch.delenv("HF_TOKEN")
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
        monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    elif case == "repo":
        repo = "me/bad--name/x"
    elif case == "empty":
        out = tmp_path / "empty"
        out.mkdir()
    else:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["push", str(out), "--repo-id", repo]) == 2
    err = capsys.readouterr().err.strip()
    assert pattern in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert hub == []  # nothing was sent


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_push_a_real_adapter_of_the_bundled_model(bundled_model_dir, tmp_path, hub):
    from huggingface_hub import ModelCard
    from helpers import sym_rows as _rows, write_jsonl as _write

    data = _write(tmp_path / "rows.jsonl", _rows(4, seed=3))
    out = tmp_path / "lora"
    assert main(["train", "--model", bundled_model_dir, "--data", data, "--out", str(out), "--steps", "1",
                 "--batch-size", "2", "--max-length", "96", "--save-every", "0"]) == 0
    assert main(["push", str(out), "--repo-id", "me/smollm2-st"]) == 0
    sent = hub[1][3]
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "tokenizer.json"} <= set(sent)
    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "peft" and card.data.tags[0] == "symbol-tuning"
