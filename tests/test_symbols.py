import random

import pytest

from symtune.errors import SymtuneError
from symtune.symbols import SymbolPool, int_to_letters


def test_bijective_base26():
    assert [int_to_letters(n) for n in (1, 26, 27, 52, 702, 703)] == ["A", "Z", "AA", "AZ", "ZZ", "AAA"]
    assert int_to_letters(10000) == "NTP" and int_to_letters(10001) == "NTQ" and int_to_letters(100000) == "EQXD"


def test_pools_have_paper_sizes_and_are_disjoint():
    train, ev = SymbolPool("train"), SymbolPool("eval")
    assert len(train) == 30_000
    assert len(ev) == 270_000
    assert not set(train.all_symbols()) & set(ev.all_symbols())
    assert "0" in train.all_symbols() and "9999" in train.all_symbols() and "10000" in ev.all_symbols()


def test_words_are_filtered():
    words = SymbolPool("train", ("word",)).all_symbols()
    assert len(words) == 10_000
    assert all(w.isalpha() and w.islower() and len(w) >= 3 for w in words)
    assert "fuck" not in words and "the" in words


def test_family_subset_and_pool_size():
    pool = SymbolPool("train", ("int",), size_per_family=10)
    assert sorted(pool.all_symbols(), key=int) == [str(i) for i in range(10)]
    rng = random.Random(0)
    assert all(s.isdigit() for s in pool.sample(5, rng))
    with pytest.raises(SymtuneError):
        pool.sample(11, rng)
    with pytest.raises(SymtuneError):
        SymbolPool("train", ("emoji",))
    with pytest.raises(SymtuneError):
        SymbolPool("test")


def test_seeded_and_independent_of_global_rng():
    pool = SymbolPool("eval")
    a = pool.sample(5, random.Random(7))
    random.seed(123)
    b = pool.sample(5, random.Random(7))
    assert a == b and len(set(a)) == 5


def test_prefix_free_and_token_cap(bundled_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bundled_model_dir)
    pool = SymbolPool("train", ("int",), size_per_family=200)  # many integers share prefixes ("1", "12")
    rng = random.Random(0)
    for _ in range(200):
        syms = pool.sample(4, rng, tokenizer=tok)
        ids = [tuple(tok.encode(" " + s, add_special_tokens=False)) for s in syms]
        for i, a in enumerate(ids):
            for j, b in enumerate(ids):
                if i != j:
                    assert b[: len(a)] != a, (syms[i], syms[j])
    capped = SymbolPool("eval").sample(6, random.Random(1), tokenizer=tok, max_tokens=1)
    assert all(len(tok.encode(" " + s, add_special_tokens=False)) == 1 for s in capped)


def test_cli_symbols(capsys):
    from symtune.cli import main

    assert main(["symbols", "--pool", "eval", "-n", "4", "--seed", "3", "--family", "letters"]) == 0
    out = capsys.readouterr().out.split()
    assert len(out) == 4 and all(s.isupper() for s in out)
    assert main(["symbols", "--pool", "eval", "-n", "4", "--seed", "3", "--family", "letters"]) == 0
    assert capsys.readouterr().out.split() == out
