"""Symbol pools (paper §3.1, Fig. 3; official generate_symbols.py): the arbitrary labels.

    symtune symbols --pool train -n 10 --seed 0
    symtune symbols --pool eval -n 5 --family word

Three families: integers, uppercase letter strings (bijective base 26: 1->A, 27->AA) and
English words. Training pool: integers 0-9,999, letter strings of 1-10,000, the 10,000 most
common words. Evaluation pool (disjoint): integers 10,000-99,999, letter strings of
10,001-100,000, words ranked 10,001-100,000. Words come from `wordfreq` (offline), keep
lowercase ASCII words of >= 3 letters, and drop a blocklist of offensive words.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from importlib import resources

from symtune.errors import SymtuneError

FAMILIES = ("int", "letters", "word")
POOLS = ("train", "eval")
TRAIN_SIZE = 10_000
EVAL_END = 100_000
_WORD_RE = re.compile(r"[a-z]{3,}")


def int_to_letters(n: int) -> str:
    """Bijective base 26: 1 -> A, 26 -> Z, 27 -> AA, 702 -> ZZ, 703 -> AAA."""
    if n < 1:
        raise ValueError("bijective base 26 starts at 1")
    out = []
    while n > 0:
        n, r = divmod(n - 1, 26)
        out.append(chr(ord("A") + r))
    return "".join(reversed(out))


@functools.lru_cache(maxsize=1)
def _blocked() -> frozenset:
    text = resources.files("symtune.resources").joinpath("blocked_words.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@functools.lru_cache(maxsize=1)
def english_words() -> tuple[str, ...]:
    """Common English words by frequency (wordfreq), filtered; at least EVAL_END of them."""
    import wordfreq

    blocked = _blocked()
    words = [w for w in wordfreq.top_n_list("en", 250_000) if _WORD_RE.fullmatch(w) and w not in blocked]
    if len(words) < EVAL_END:
        raise SymtuneError(f"wordfreq returned only {len(words)} usable words; upgrade wordfreq (need {EVAL_END})")
    return tuple(words[:EVAL_END])


def family_symbols(family: str, pool: str) -> list[str] | range:
    """All symbols of one family in one pool (ints/letters are computed lazily by index)."""
    if family == "word":
        words = english_words()
        return list(words[:TRAIN_SIZE]) if pool == "train" else list(words[TRAIN_SIZE:EVAL_END])
    return range(0, TRAIN_SIZE) if pool == "train" else range(TRAIN_SIZE, EVAL_END)


def _render(family: str, value) -> str:
    if family == "int":
        return str(value)
    if family == "letters":
        return int_to_letters(value + 1)  # train 0..9999 -> 1..10000; eval -> 10001..100000
    return value


@dataclass
class SymbolPool:
    """A pool of candidate symbols; `sample` draws distinct, prefix-free symbols for one prompt."""

    pool: str = "train"
    families: tuple[str, ...] = FAMILIES
    size_per_family: int | None = None  # None = the whole family (paper ablation: 10/100/1,000/10,000)

    def __post_init__(self):
        if self.pool not in POOLS:
            raise SymtuneError(f"unknown symbol pool '{self.pool}'; choose train or eval")
        self.families = tuple(self.families)
        if not self.families:
            raise SymtuneError("symbol families must not be empty; choose from int, letters, word")
        for f in self.families:
            if f not in FAMILIES:
                raise SymtuneError(f"unknown symbol family '{f}'; choose from {', '.join(FAMILIES)}")
        self._members = {}
        for f in self.families:
            members = family_symbols(f, self.pool)
            if self.size_per_family is not None:
                if self.size_per_family < 1:
                    raise SymtuneError("symbol pool size per family must be at least 1")
                members = members[: self.size_per_family]
            self._members[f] = members
        self._token_cache: dict = {}

    def __len__(self) -> int:
        return sum(len(m) for m in self._members.values())

    def all_symbols(self) -> list[str]:
        return [_render(f, v) for f in self.families for v in self._members[f]]

    def _draw(self, rng: random.Random) -> tuple[str, str]:
        family = self.families[rng.randrange(len(self.families))]
        members = self._members[family]
        return _render(family, members[rng.randrange(len(members))]), family

    def token_ids(self, symbol: str, tokenizer) -> tuple[int, ...]:
        """Token ids of a symbol as it appears after the delimiter (with a leading space)."""
        key = (id(tokenizer), symbol)
        ids = self._token_cache.get(key)
        if ids is None:
            ids = tuple(tokenizer.encode(" " + symbol, add_special_tokens=False))
            self._token_cache[key] = ids
        return ids

    def _unfit_families(self, tokenizer, max_tokens: int) -> set:
        """Families with no member of at most max_tokens tokens (skipped, or their draws would never end)."""
        key = (id(tokenizer), max_tokens)
        cache = self.__dict__.setdefault("_unfit_cache", {})
        if key not in cache:
            unfit = set()
            for f in self.families:
                members = self._members[f]
                for start in range(0, len(members), 4096):
                    texts = [" " + _render(f, m) for m in members[start:start + 4096]]
                    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
                    if any(len(t) <= max_tokens for t in ids):
                        break
                else:
                    unfit.add(f)
            cache[key] = unfit
        return cache[key]

    def sample(self, n: int, rng: random.Random, tokenizer=None, max_tokens: int | None = None,
               max_tries: int = 100_000) -> list[str]:
        """n distinct symbols; with a tokenizer no symbol's tokens are a prefix of another's,
        and (with max_tokens) each is at most that many tokens. Resamples until true.

        A symbol over max_tokens is redrawn from the same family (draws of other families are skipped
        until one of it fits), so a cap keeps the families' shares: redrawing any family would let the
        family with the most short members crowd out the others (train pool, cap 4: integers fell from
        1/3 to 4% of symbols). Without a cap, and with one family, the RNG stream is unchanged."""
        if n > len(self):
            raise SymtuneError(f"cannot draw {n} distinct symbols from a pool of {len(self)}; raise the pool size")
        if max_tokens is not None and max_tokens < 1:
            raise SymtuneError(f"max_symbol_tokens must be at least 1 (a symbol is one token or more), got {max_tokens}")
        out: list[str] = []
        taken: set[str] = set()
        # prefix-freedom in O(tokens) per draw (a list scan made 10,000 classes quadratic): the accepted
        # symbols' ids, and every prefix of them (a new symbol equal to one of those is a prefix of one)
        accepted: set[tuple[int, ...]] = set()
        prefixes: set[tuple[int, ...]] = set()
        tries = 0
        owed = None  # the family of the last symbol rejected for its length, until one of it fits
        unfit = self._unfit_families(tokenizer, max_tokens) if tokenizer is not None and max_tokens else set()
        if len(unfit) == len(self.families):
            raise SymtuneError(f"no symbol of families {', '.join(self.families)} is at most {max_tokens} tokens "
                               "for this tokenizer; raise max_symbol_tokens")
        while len(out) < n:
            tries += 1
            if tries > max_tries:
                raise SymtuneError(
                    f"could not draw {n} prefix-free symbols within {max_tries} tries"
                    + (f" with at most {max_tokens} tokens each (families {', '.join(self.families)}); raise "
                       "max_symbol_tokens or drop the family whose symbols are longer" if max_tokens is not None else ""))
            s, family = self._draw(rng)
            if family in unfit or (owed is not None and family != owed):
                continue
            if s in taken:
                continue
            if tokenizer is not None:
                t = self.token_ids(s, tokenizer)
                if max_tokens is not None and len(t) > max_tokens:
                    owed = family
                    continue
                if t in prefixes or any(t[:k] in accepted for k in range(len(t) + 1)):
                    continue
                accepted.add(t)
                prefixes.update(t[:k] for k in range(len(t) + 1))
            out.append(s)
            taken.add(s)
            owed = None
        return out


def symbol_family(symbol: str) -> str:
    """The family a symbol belongs to: int (digits), letters (uppercase A-Z) or word (lowercase)."""
    if symbol.isdigit():
        return "int"
    if symbol.isascii() and symbol.isalpha() and symbol.isupper():
        return "letters"
    return "word"
