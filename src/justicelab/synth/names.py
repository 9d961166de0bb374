"""Name tables for the synthetic city: frequencies, nicknames, spelling variants.

Every name the generator can write lives in one vocabulary (a list of strings); people
and records hold integer indices into it. Spelling changes a source makes (a typo, a
dropped accent, a nickname, an initial) are lookups from one index to another, prepared
once per vocabulary entry, so that millions of records are transformed with numpy
indexing instead of Python string work per record.
"""

from __future__ import annotations

import csv
import unicodedata
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from justicelab.standard.reference import given_name_variants

DATA_DIR = Path(__file__).with_name("data")

#: Standard race/ethnicity codes; the index of a code is how arrays store it.
RACES: tuple[str, ...] = (
    "hispanic",
    "white",
    "black",
    "asian",
    "pacific_islander",
    "american_indian",
    "multiracial",
    "other",
    "unknown",
)
RACE_INDEX = {r: i for i, r in enumerate(RACES)}
UNKNOWN_RACE = RACE_INDEX["unknown"]

#: The naming traditions the frequency tables carry a column for.
NAME_GROUPS: tuple[str, ...] = ("hispanic", "white", "black", "asian")

#: How each race/ethnicity draws its names from the four naming traditions.
RACE_NAME_MIX: dict[str, tuple[float, float, float, float]] = {
    "hispanic": (1.0, 0.0, 0.0, 0.0),
    "white": (0.0, 1.0, 0.0, 0.0),
    "black": (0.0, 0.0, 1.0, 0.0),
    "asian": (0.0, 0.0, 0.0, 1.0),
    "pacific_islander": (0.3, 0.3, 0.0, 0.4),
    "american_indian": (0.3, 0.7, 0.0, 0.0),
    "multiracial": (0.1, 0.45, 0.45, 0.0),
    "other": (0.3, 0.4, 0.0, 0.3),
}

#: Letters a typist plausibly hits or hears instead of the intended one.
_CONFUSABLE: dict[str, str] = {
    "A": "ESQ",
    "B": "VPN",
    "C": "KSX",
    "D": "TSF",
    "E": "AIRW",
    "F": "VDG",
    "G": "JHF",
    "H": "JGN",
    "I": "EYOU",
    "J": "GHK",
    "K": "CLJ",
    "L": "KIO",
    "M": "NB",
    "N": "MBH",
    "O": "UAIP",
    "P": "BO",
    "Q": "WK",
    "R": "TEF",
    "S": "ZCA",
    "T": "DRY",
    "U": "OIY",
    "V": "BF",
    "W": "VE",
    "X": "ZC",
    "Y": "IT",
    "Z": "SX",
}

TYPO_VARIANTS = 4


def fold_accents(text: str) -> str:
    """The text with diacritics removed (NÚÑEZ -> NUNEZ), as ASCII-only systems store it."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def squash(text: str) -> str:
    """The text without apostrophes and spaces (O'BRIEN -> OBRIEN), as old mainframes store it."""
    return text.replace("'", "").replace(" ", "")


def _typos(name: str, rng: np.random.Generator, k: int) -> list[str]:
    """Up to ``k`` distinct misspellings of ``name``: substitutions, drops, swaps and doubled letters."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    out: list[str] = []
    if not letters:
        return out
    for _ in range(12 * k):
        if len(out) >= k:
            break
        op = int(rng.integers(4))
        i = letters[int(rng.integers(len(letters)))]
        ch = name[i]
        if op > 0 and i == letters[0]:
            continue  # people rarely get the first letter wrong except by substitution
        if op == 0:
            pool = _CONFUSABLE.get(fold_accents(ch), "")
            if not pool:
                continue
            cand = name[:i] + pool[int(rng.integers(len(pool)))] + name[i + 1 :]
        elif op == 1:
            if len(letters) <= 3:
                continue
            cand = name[:i] + name[i + 1 :]
        elif op == 2:
            if i + 1 >= len(name) or not name[i + 1].isalpha() or name[i + 1] == ch:
                continue
            cand = name[:i] + name[i + 1] + ch + name[i + 2 :]
        else:
            cand = name[: i + 1] + ch + name[i + 1 :]
        if cand != name and cand not in out:
            out.append(cand)
    return out


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_nicknames() -> list[tuple[str, str]]:
    """(given name, nickname) pairs from the standard's reference table; ASCII upper case."""
    return list(given_name_variants())


@dataclass(frozen=True)
class Sampler:
    """Vocabulary indices with their probabilities, for drawing names of one kind."""

    index: np.ndarray
    prob: np.ndarray

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.index[rng.choice(len(self.index), size=size, p=self.prob)]


class NameBook:
    """The name vocabulary and the per-entry lookups that turn a true name into a recorded one."""

    def __init__(self, seed: int) -> None:
        self.vocab: list[str] = []
        self._ids: dict[str, int] = {}
        first_rows = _read_csv("first_names.csv")
        last_rows = _read_csv("surnames.csv")
        nick_pairs = read_nicknames()

        first_ids = np.array([self.intern(r["name"]) for r in first_rows], dtype=np.int32)
        first_sex = np.array([r["sex"] for r in first_rows])
        first_w = np.array([[float(r[g]) for g in NAME_GROUPS] for r in first_rows])
        last_ids = np.array([self.intern(r["name"]) for r in last_rows], dtype=np.int32)
        last_w = np.array([[float(r[g]) for g in NAME_GROUPS] for r in last_rows])
        for given, nick in nick_pairs:
            self.intern(given)
            self.intern(nick)
        letters = [self.intern(chr(c)) for c in range(ord("A"), ord("Z") + 1)]
        for extra in ("DOE", "JOHN", "JANE"):
            self.intern(extra)
        base_count = len(self.vocab)

        # Spelling variants of every base entry, then the accent-free and squashed forms of everything.
        typo_rows: list[list[int]] = []
        for idx in range(base_count):
            name = self.vocab[idx]
            rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
            variants = [self.intern(v) for v in _typos(name, rng, TYPO_VARIANTS)] or [idx]
            while len(variants) < TYPO_VARIANTS:
                variants.append(variants[len(variants) % max(1, len(variants))])
            typo_rows.append(variants[:TYPO_VARIANTS])
        i = 0
        while i < len(self.vocab):
            self.intern(fold_accents(self.vocab[i]))
            self.intern(squash(self.vocab[i]))
            i += 1
        size = len(self.vocab)

        self.typo = np.tile(np.arange(size, dtype=np.int32)[:, None], (1, TYPO_VARIANTS))
        self.typo[:base_count] = np.array(typo_rows, dtype=np.int32)
        self.ascii_of = np.array([self._ids[fold_accents(s)] for s in self.vocab], dtype=np.int32)
        self.squash_of = np.array([self._ids[squash(s)] for s in self.vocab], dtype=np.int32)
        letter_ids = dict(zip([chr(c) for c in range(ord("A"), ord("Z") + 1)], letters, strict=True))
        self.initial_of = np.array([letter_ids.get(fold_accents(s)[:1], -1) for s in self.vocab], dtype=np.int32)

        by_given: dict[int, list[int]] = {}
        for given, nick in nick_pairs:
            by_given.setdefault(self._ids[given], []).append(self._ids[nick])
        width = max(len(v) for v in by_given.values())
        self.nick = np.full((size, width), -1, dtype=np.int32)
        self.nick_count = np.zeros(size, dtype=np.int32)
        for given_id, nicks in by_given.items():
            self.nick[given_id, : len(nicks)] = nicks
            self.nick_count[given_id] = len(nicks)

        self.first: dict[tuple[str, str], Sampler] = {}
        self.last: dict[str, Sampler] = {}
        for race, mix in RACE_NAME_MIX.items():
            m = np.array(mix)
            for sex in ("M", "F"):
                sel = first_sex == sex
                w = first_w[sel] @ m
                self.first[(sex, race)] = Sampler(first_ids[sel][w > 0], w[w > 0] / w[w > 0].sum())
            w = last_w @ m
            self.last[race] = Sampler(last_ids[w > 0], w[w > 0] / w[w > 0].sum())
        self.doe = self._ids["DOE"]
        self.john = self._ids["JOHN"]
        self.jane = self._ids["JANE"]

    def intern(self, text: str) -> int:
        """The vocabulary index of ``text``, adding it if new."""
        idx = self._ids.get(text)
        if idx is None:
            idx = len(self.vocab)
            self._ids[text] = idx
            self.vocab.append(text)
        return idx

    @cached_property
    def arrow(self) -> pa.Array:
        return pa.array(self.vocab, type=pa.string())

    def strings(self, idx: np.ndarray) -> pa.Array:
        """The strings for vocabulary indices; a negative index gives null."""
        idx = np.asarray(idx)
        return pc.take(self.arrow, pa.array(idx, mask=idx < 0, type=pa.int32()))
