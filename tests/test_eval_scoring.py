"""Scoring engine: exactness vs a naive full-sequence reference, batch/option-order invariance,
lm-eval's _encode_pair whitespace rule, greedy generation (stop at newline/EOS, batch invariance)."""

import random

import pytest
import torch

from reference_scoring import naive_logprobs

from symtune.eval.scoring import Encoder, Request, Scorer, trim_generation


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: one thread is fastest, and the CPU is shared
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from symtune.models import load_model, load_tokenizer

    return load_model(tiny_model_dir), load_tokenizer(tiny_model_dir)


def _requests():
    rng = random.Random(0)
    words = "the cat sat on a mat while dogs ran far away from home and never came back".split()
    reqs = []
    for i in range(10):
        ctx = " ".join(rng.choice(words) for _ in range(rng.randint(3, 60))) + "\nOutput:"
        if i % 3 == 0:
            ctx += " "  # trailing whitespace moves into the continuation
        opts = [" positive", " negative", " not hate", " 12345", " QXBZ", " [1, 2, 3]"][: 2 + i % 5]
        if i % 3 == 0:
            opts = [o.lstrip() for o in opts]
        reqs.append(Request(ctx, opts))
    reqs.append(Request("x", [" a", " bb"]))  # one-token context
    return reqs


@pytest.mark.parametrize("method", ["packed", "kv", "full"])
def test_scores_match_naive_reference(tiny, method):
    model, tok = tiny
    scorer = Scorer(model, tok, batch_size=4, method=method)
    reqs = _requests()
    res = scorer.run(reqs)
    for r, s in zip(reqs, res):
        assert len(s.logprobs) == len(r.continuations) == len(s.n_tokens)
        for c, lp, n in zip(r.continuations, s.logprobs, s.n_tokens):
            assert lp == pytest.approx(naive_logprobs(model, scorer, r.context, c), abs=1e-4)
            assert n == len(scorer.encode_pair(r.context, c)[1])


def test_batch_size_does_not_change_results(tiny):
    model, tok = tiny
    reqs = _requests()
    a = Scorer(model, tok, batch_size=1).run(reqs)
    b = Scorer(model, tok, batch_size=8, max_option_rows=5).run(reqs)
    for x, y in zip(a, b):
        assert x.n_tokens == y.n_tokens
        for p, q in zip(x.logprobs, y.logprobs):
            assert abs(p - q) < 1e-4


def test_option_order_and_request_order_invariance(tiny):
    model, tok = tiny
    scorer = Scorer(model, tok, batch_size=3)
    reqs = _requests()
    base = scorer.run(reqs)
    rng = random.Random(1)
    perm_reqs, perms = [], []
    for r in reqs:
        p = list(range(len(r.continuations)))
        rng.shuffle(p)
        perms.append(p)
        perm_reqs.append(Request(r.context, [r.continuations[i] for i in p]))
    order = list(range(len(reqs)))
    rng.shuffle(order)
    shuffled = scorer.run([perm_reqs[i] for i in order])
    for pos, i in enumerate(order):
        for j, orig in enumerate(perms[i]):
            assert shuffled[pos].logprobs[j] == pytest.approx(base[i].logprobs[orig], abs=1e-5)


def test_encode_pair_moves_trailing_whitespace(tiny):
    _, tok = tiny
    enc = Encoder(tok)
    a_ctx, a_cont = enc.encode_pair("Review: great\nOutput: ", "positive")
    b_ctx, b_cont = enc.encode_pair("Review: great\nOutput:", " positive")
    assert a_ctx == b_ctx and a_cont == b_cont
    assert tok.decode(b_cont) == " positive"
    # whole-string encoding sliced at the context length (lm-eval), not encode(continuation)
    whole = tok("Review: great\nOutput: positive", add_special_tokens=False)["input_ids"]
    assert b_ctx + b_cont == whole
    # empty context conditions on the prefix token
    ctx, cont = enc.encode_pair("", " hi")
    assert ctx == [enc.prefix_token_id] and cont
    assert enc.token_length("Review: great\nOutput:", [" positive", " not hate"]) == len(b_ctx) + 2


def test_trim_generation():
    assert trim_generation(" positive\nInput: x") == "positive"
    assert trim_generation("  [1, 2]  ") == "[1, 2]"
    assert trim_generation("\nfoo") == ""


class _BigramLM(torch.nn.Module):
    """A fake causal LM: the next token is a fixed function of the current one (scripted chains)."""

    def __init__(self, vocab, table, eos):
        super().__init__()
        from transformers import GenerationConfig, LlamaConfig

        self.config = LlamaConfig(vocab_size=vocab, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                                  max_position_embeddings=512)
        self.generation_config = GenerationConfig(eos_token_id=eos)
        self.table = table
        self.vocab = vocab

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, use_cache=None,
                logits_to_keep=0, **kw):
        nxt = torch.tensor([[self.table.get(int(t), 0) for t in row] for row in input_ids])
        logits = torch.nn.functional.one_hot(nxt, self.vocab).float() * 10
        if isinstance(logits_to_keep, int) and logits_to_keep:
            logits = logits[:, -logits_to_keep:]

        class Out:
            pass

        o = Out()
        o.logits = logits
        return o


def test_greedy_stops_at_newline_and_eos(tiny):
    _, tok = tiny
    ids = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    a, b, c = ids(" alpha")[0], ids(" beta")[0], ids(" gamma")[0]
    nl = ids("\n")[0]
    eos = tok.eos_token_id
    ctx1, ctx2 = ids("first prompt:"), ids("a much longer second prompt with more tokens =")
    assert ctx1[-1] != ctx2[-1]
    table = {ctx1[-1]: a, a: b, b: nl, nl: c, ctx2[-1]: c, c: eos}
    model = _BigramLM(len(tok), table, eos)
    reqs = [Request("first prompt:"), Request("a much longer second prompt with more tokens ="),
            Request("first prompt:", max_new_tokens=1)]
    for bs in (1, 3):
        gens = Scorer(model, tok, batch_size=bs, method="kv").generate(reqs, max_new_tokens=10)
        assert gens == ["alpha beta", "gamma", "alpha"]


def test_generation_batch_invariant_and_matches_hf_generate(tiny):
    model, tok = tiny
    reqs = [Request(r.context) for r in _requests()[:6]]
    one = Scorer(model, tok, batch_size=1).generate(reqs, max_new_tokens=6)
    many = Scorer(model, tok, batch_size=6).generate(reqs, max_new_tokens=6)
    ref = Scorer(model, tok, batch_size=1, method="full").generate(reqs, max_new_tokens=6)  # HF generate
    assert one == many == ref


def test_rank_and_generate_in_one_pass(tiny):
    model, tok = tiny
    reqs = _requests()[:4]
    both = Scorer(model, tok, batch_size=4).run(reqs, rank=True, generate=True, max_new_tokens=4)
    rank = Scorer(model, tok, batch_size=4).run(reqs)
    gen = Scorer(model, tok, batch_size=4).generate(reqs, max_new_tokens=4)
    for x, y, g in zip(both, rank, gen):
        assert x.logprobs == pytest.approx(y.logprobs, abs=1e-5)
        assert x.generation == g
        assert x.pred == y.pred and x.pred_norm == y.pred_norm


def test_too_long_request_is_an_error(tiny):
    from symtune.errors import SymtuneError

    model, tok = tiny
    with pytest.raises(SymtuneError, match="--max-length"):
        Scorer(model, tok, max_length=10).run([Request("word " * 20, [" a"])])


def _tiny_sliding(kind, vocab):
    """A tiny random Gemma 3 / Gemma 2 with a sliding window (6) far shorter than the test prompts."""
    torch.manual_seed(0)
    common = dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=8, max_position_embeddings=512, sliding_window=6,
                  layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                  attn_implementation="sdpa" if kind == "gemma3" else "eager")  # Gemma 2 has no sdpa: eager's additive mask
    if kind == "gemma3":
        from transformers import Gemma3ForCausalLM, Gemma3TextConfig

        return Gemma3ForCausalLM(Gemma3TextConfig(**common)).eval()
    from transformers import Gemma2Config, Gemma2ForCausalLM

    return Gemma2ForCausalLM(Gemma2Config(**common)).eval()


@pytest.mark.parametrize("kind", ["gemma3", "gemma2"])
def test_sliding_window_models_are_packed_and_exact(tiny, kind):
    """Gemma's sliding layers get the packed mask cut to the window: every option's log-prob equals a naive
    unpadded forward (the model's own sliding mask), prompts up to 10x the window, several per batch."""
    _, tok = tiny
    model = _tiny_sliding(kind, len(tok))
    packed = Scorer(model, tok, batch_size=4)
    assert packed.method == "packed" and packed.window == 6
    reqs = _requests()
    for r, s in zip(reqs, packed.run(reqs)):
        for c, lp in zip(r.continuations, s.logprobs):
            assert lp == pytest.approx(naive_logprobs(model, packed, r.context, c), abs=1e-4)
    full = Scorer(model, tok, batch_size=4, method="full").run(reqs)
    window_off = Scorer(model, tok, batch_size=4)
    window_off.window = 10_000  # the same packing without the cut differs, so the cut is what makes it exact
    off = window_off.run(reqs)
    assert max(abs(a - b) for x, y in zip(full, off) for a, b in zip(x.logprobs, y.logprobs)) > 1e-3


def test_packed_is_refused_where_it_is_not_exact(tiny):
    from transformers import MistralConfig, MistralForCausalLM

    from symtune.errors import SymtuneError

    _, tok = tiny
    model = MistralForCausalLM(MistralConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                             num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                                             sliding_window=6))
    assert Scorer(model, tok).method == "full"  # auto falls back to the exact full-sequence path
    with pytest.raises(SymtuneError, match="not exact"):
        Scorer(model, tok, method="packed")


def test_lm_head_gets_a_contiguous_input_for_a_frozen_model(tiny_model_dir):
    """A merged adapter leaves every weight frozen; the LM head must still see one contiguous matrix (a
    strided `logits_to_keep` slice sent torch down a batched product copying the head per row: 4x slower
    on Gemma's 262k vocabulary). The scores stay those of the naive reference."""
    from symtune.models import load_model, load_tokenizer

    model, tok = load_model(tiny_model_dir), load_tokenizer(tiny_model_dir)
    model.requires_grad_(False)  # as after PEFT's merge_and_unload
    scorer = Scorer(model, tok, batch_size=4, method="packed")
    seen = []
    model.get_output_embeddings().register_forward_pre_hook(lambda m, args: seen.append(args[0].is_contiguous()))
    reqs = _requests()
    res = scorer.run(reqs)
    assert seen and all(seen)
    Scorer(model, tok)  # a second scorer on the same model adds no second hook
    assert len(model.get_output_embeddings()._forward_pre_hooks) == 2  # symtune's and this test's
    for r, s in zip(reqs[:3], res[:3]):
        for c, lp in zip(r.continuations, s.logprobs):
            assert lp == pytest.approx(naive_logprobs(model, scorer, r.context, c), abs=1e-4)
