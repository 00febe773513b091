"""chat_template: tuning rows and evaluation prompts rendered through the tokenizer's chat template,
identically (symtune/chat.py); one run field sets both stages."""

import json

import pytest

from symtune.errors import SymtuneError


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from symtune.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


def test_wrap_is_the_template(tok):
    from symtune.chat import ChatWrap

    chat = ChatWrap(tok)
    prompt = "Input: play some jazz\nOutput: foo\n\nInput: will it rain\nOutput:"
    real = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)
    assert chat.prompt(prompt) == real
    assert real.endswith("<|im_start|>assistant\n")
    chat.check(prompt)
    assert chat.overhead == len(tok(chat.head + chat.tail, add_special_tokens=False)["input_ids"]) + 1


def test_no_template_or_rewriting_template_is_one_line_error(tok):
    import copy

    from symtune.chat import ChatWrap

    bare = copy.deepcopy(tok)
    bare.chat_template = None
    with pytest.raises(SymtuneError, match="option 'chat_template': m's tokenizer has no chat template"):
        ChatWrap(bare, "m")
    upper = copy.deepcopy(tok)
    upper.chat_template = "{% for m in messages %}{{ m['content'] | upper }}{% endfor %}"
    with pytest.raises(SymtuneError, match="does not keep the user message verbatim"):
        ChatWrap(upper, "m")


def _rows(model, out, chat, **kw):
    from symtune.data.config import DataConfig
    from symtune.data.run import build_dataset

    cfg = DataConfig(model=model, tasks=["multiemo_pn", "multiemo_domain"], n_prompts=6, min_exemplars=1,
                     max_exemplars=2, max_length=kw.pop("max_length", 1024), seed=3, chat_template=chat, **kw)
    build_dataset(cfg, out, progress=False)
    return [json.loads(x) for x in out.read_text().splitlines()]


def test_data_rows_are_served_text_with_bare_labels(tiny_model_dir, tok, tmp_path):
    from symtune.chat import ChatWrap
    from symtune.train.data import encode_row

    chat = ChatWrap(tok)
    plain = _rows(tiny_model_dir, tmp_path / "plain.jsonl", False)
    served = _rows(tiny_model_dir, tmp_path / "chat.jsonl", True)
    assert len(plain) == len(served) == 6
    for p, c in zip(plain, served):
        # same draw; the chat row is the plain prompt in one user turn, the completion unchanged (" label")
        assert c["prompt"] == chat.prompt(p["prompt"]) and c["completion"] == p["completion"]
        assert c["meta"]["chat_template"] is True and "chat_template" not in p["meta"]
        for span in c["meta"]["exemplar_labels"]:  # spans still point at the exemplar labels
            assert c["prompt"][span["start"]:span["end"]] in c["meta"]["symbols"]
        enc = encode_row(tok, c, loss="dense")  # the trainer's tokenization accepts the row
        label_ids = [t for t, lab in zip(enc.input_ids, enc.labels) if lab != -100]
        assert tok.decode(label_ids[-enc.n_completion:]) == c["completion"]
        assert enc.n_dense == encode_row(tok, p, loss="dense").n_dense  # dense finds the same exemplar labels
        assert len(enc.input_ids) == c["meta"]["n_tokens"]


def test_data_budget_counts_the_template(tiny_model_dir, tmp_path):
    rows = _rows(tiny_model_dir, tmp_path / "tight.jsonl", True, max_length=200)
    assert all(r["meta"]["n_tokens"] <= 200 for r in rows)
    assert any(r["meta"]["dropped_exemplars"] for r in rows)


def test_messages_format_with_chat_template_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(SymtuneError, match="'chat_template' and 'format messages'"):
        _rows(tiny_model_dir, tmp_path / "m.jsonl", True, format="messages")


def test_eval_items_are_served_text(tiny_model_dir, tok):
    from symtune.chat import ChatWrap
    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import prepare

    base = dict(model=tiny_model_dir, tasks=["snips_weather_music"], settings=["labels", "symbols"], limit=3, k=2)
    plain = prepare(EvalConfig(**base))[0]
    items, notes = prepare(EvalConfig(**base, chat_template=True))[:2]
    chat = ChatWrap(tok)
    assert [it.prompt for it in items] == [chat.prompt(it.prompt) for it in plain]
    assert all(it.continuations == [" " + o for o in it.options] for it in items + plain)
    assert notes["chat_template"]["tail"] == chat.tail


def test_run_sets_both_stages(tmp_path):
    from symtune.run_config import resolve_run, stage_configs

    cfg = resolve_run(overrides={"chat_template": True})
    st = stage_configs(cfg, tmp_path)
    assert st["data"].chat_template and st["eval_base"].chat_template and st["eval_tuned"].chat_template
    bad = tmp_path / "bad.yaml"
    bad.write_text("eval:\n  chat_template: true\n")
    with pytest.raises(SymtuneError, match="'eval.chat_template' is set by the run; set chat_template instead"):
        resolve_run(str(bad))


@pytest.mark.integration
def test_bundled_model_chat_eval_scores_the_served_text(bundled_model_dir, tmp_path):
    """On the real instruct model: the chat evaluation's log-prob of each option equals the model's
    log-prob of the served text's answer, computed by hand with lm-eval's rule (the context's trailing
    newline, after the assistant header, is scored with the continuation: the same term for every option)."""
    import torch

    from symtune.eval.config import EvalConfig
    from symtune.eval.runner import run_eval
    from symtune.models import load_model, load_tokenizer

    cfg = EvalConfig(model=bundled_model_dir, tasks=["snips_weather_music"], settings=["labels"], limit=2, k=1,
                     batch_size=2, threads=1, progress=False, chat_template=True, dtype="float32")
    doc = run_eval(cfg, tmp_path, log=lambda s: None)
    assert doc["results"]["icl"]["labels"]["snips_weather_music"]["n"] == 2
    row = json.loads((tmp_path / "samples_icl_snips_weather_music.jsonl").read_text().splitlines()[0])
    assert row["prompt"].endswith("<|im_start|>assistant\n")
    model, tok = load_model(bundled_model_dir, dtype="float32"), load_tokenizer(bundled_model_dir)
    ctx = tok(row["prompt"].rstrip(), add_special_tokens=False)["input_ids"]
    for opt, lp in zip(row["options"], row["logprobs"]):
        full = tok(row["prompt"] + " " + opt, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([full])).logits[0].float().log_softmax(-1)
        ref = sum(logits[i - 1, full[i]].item() for i in range(len(ctx), len(full)))
        assert lp == pytest.approx(ref, abs=2e-3)


def test_template_that_trims_lines_is_refused(tok):
    """A template that rewrites the text around the content (here: strips every line) is caught by the
    check ChatWrap runs on a sample prompt when it is built."""
    import copy

    from symtune.chat import ChatWrap

    odd = copy.deepcopy(tok)
    odd.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | replace('\n\n', '\n') }}"
                         "<|im_end|>\n{% endfor %}<|im_start|>assistant\n")
    with pytest.raises(SymtuneError, match="rewrites the prompt text"):
        ChatWrap(odd)
