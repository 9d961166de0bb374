"""Keyed Bloom-filter encodings of person identifiers (the CLK scheme of Schnell et al., through clkhash).

Departments that may not hand cleartext identifiers to the platform (Health under HIPAA, treatment
under 42 CFR Part 2) encode them with a secret they share with each other but not with the platform;
every department runs the same encoder, so the platform compares encodings by Dice similarity
without learning a name or a date of birth.

One filter per group of identifiers, so the model weighs each and can still explain a link:

``name_bf`` (1024 bits)
    given name (first token) and squashed surname as bigrams, plus every standard form of the given
    name as an exact token (BOB and ROBERT share ROBERT).
``dob_bf`` (512 bits)
    year, month and day as exact tokens, plus year+month, year+day, month+day and year with the
    unordered day/month pair: a date wrong in one part (a one-digit typo) or with day and month
    swapped still shares three eighths of its bits; different dates share almost none.
``address_bf`` (1024 bits)
    the standardised street address as bigrams, plus the ZIP code as an exact token.

Why these numbers: each feature inserts a fixed number of bits however long its value
(clkhash's ``bitsPerFeature``), so the fill does not reveal a name's length and has a hard ceiling
(:func:`max_bits`): at most 320 of 1024 name bits, 80 of 512 date bits, 200 of 1024 address bits.
Fills of 15-30% keep chance overlap between different people low (a Dice of about 0.1-0.3) while
one typo moves a matching pair's Dice only a little; a filter with more bits than its ceiling
cannot come from this encoder. Every feature has its own key (HKDF ``info``), so the bigram ``AN``
of a given name and of a surname set different bits. Values are the linkage's own standardised
ones (:func:`justicelab.linkage.records.standardise`), so cleartext and encoded records agree.

``person_key`` is an HMAC-SHA256 of the source's own person id (an MRN), so records of one person
within one source still share an id. Every key is derived from the secret with its own label;
the key check value (an HMAC of a fixed label) lets the platform see that all uploads used the
same secret without learning it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from bitarray import bitarray
from clkhash import clk
from clkhash import schema as clkschema

from justicelab.linkage.records import standardise
from justicelab.linkage.store import LinkageError

SCHEME = "justicelab-pprl/v1"
MIN_SECRET_BYTES = 16
FILTER_COLUMNS = ("name_bf", "dob_bf", "address_bf")


@dataclass(frozen=True)
class Feature:
    """One identity inside a filter: where its values come from and how many bits one value sets."""

    name: str
    sql: str  # over the standardised records (records.standardise); text, or a list of text for several values
    comparison: Literal["bigram", "exact"]
    bits: int
    max_values: int = 1  # values per record (given-name forms); bounds the filter's fill

    def clkhash_schema(self, length: int, group: str) -> dict[str, Any]:
        """The clkhash v3 linkage schema that encodes this feature alone, with its own key."""
        comparison = {"type": "ngram", "n": 2, "positional": False} if self.comparison == "bigram" \
            else {"type": "exact"}
        info = base64.b64encode(f"{SCHEME}/{group}/{self.name}".encode()).decode()
        return {
            "version": 3,
            "clkConfig": {"l": length, "kdf": {"type": "HKDF", "hash": "SHA256", "info": info, "keySize": 64}},
            "features": [{
                "identifier": f"{group}.{self.name}",
                "format": {"type": "string", "encoding": "utf-8"},
                "hashing": {"comparison": comparison, "strategy": {"bitsPerFeature": self.bits},
                            "hash": {"type": "blakeHash"}},
            }],
        }


@dataclass(frozen=True)
class Filter:
    column: str
    length: int  # bits; a power of two (clkhash's BLAKE2 construction needs one)
    features: tuple[Feature, ...]

    @property
    def max_bits(self) -> int:
        return sum(f.bits * f.max_values for f in self.features)

    @property
    def text_length(self) -> int:
        """Characters of the padded base64 text of one filter."""
        return 4 * -(-self.length // 8 // 3)


def _dob(fmt: str) -> str:
    return f"strftime(dob, '{fmt}')"


FILTERS: tuple[Filter, ...] = (
    Filter("name_bf", 1024, (
        Feature("given", "first_token", "bigram", 100),
        Feature("surname", "last_squashed", "bigram", 120),
        Feature("given_form", "first_forms[1:4]", "exact", 25, max_values=4),
    )),
    Filter("dob_bf", 512, (
        Feature("year", _dob("%Y"), "exact", 10),
        Feature("month", _dob("%m"), "exact", 10),
        Feature("day", _dob("%d"), "exact", 10),
        Feature("year_month", _dob("%Y-%m"), "exact", 10),
        Feature("year_day", _dob("%Y-%d"), "exact", 10),
        Feature("month_day", _dob("%m-%d"), "exact", 10),
        Feature("year_day_month_unordered",
                f"{_dob('%Y')} || ':' || least({_dob('%m')}, {_dob('%d')}) || '/' || "
                f"greatest({_dob('%m')}, {_dob('%d')})", "exact", 20),
    )),
    Filter("address_bf", 1024, (
        Feature("street", "address", "bigram", 160),
        Feature("zip", "zip", "exact", 40),
    )),
)
FILTER_BY_COLUMN = {f.column: f for f in FILTERS}


# --- the secret and what is derived from it ------------------------------------------------------------


def read_secret(path: Path) -> bytes:
    """The shared secret from a file (surrounding whitespace, such as an editor's newline, is not part of it)."""
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise LinkageError(f"{path}: cannot read the secret file ({exc.strerror or exc})") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise LinkageError(
            f"{path}: the secret is {len(secret)} bytes; at least {MIN_SECRET_BYTES} are needed so that nobody "
            "can guess it (make one with `openssl rand -base64 32`, share it only among the departments)")
    return secret


def _subkey(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose: HMAC-SHA256 of a label under the secret (keys of different purposes are unrelated)."""
    return hmac.new(secret, f"{SCHEME}/{purpose}".encode(), hashlib.sha256).digest()


def key_check(secret: bytes) -> str:
    """16 hex characters that are the same for the same secret and reveal nothing about it."""
    return _subkey(secret, "key-check")[:8].hex()


def person_keys(secret: bytes, ids: Iterable[str | None]) -> list[str | None]:
    """HMAC-SHA256 (hex) of each source person id (``source:id`` as standardised); None stays None."""
    key = _subkey(secret, "person-key")
    return [None if not v else hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in ids]


@cache
def scheme_fingerprint() -> str:
    """SHA-256 of everything that decides an encoding: the filters, their features and clkhash schemas."""
    spec = {
        "scheme": SCHEME,
        "person_key": "HMAC-SHA256",
        "filters": [{"column": f.column, "bits": f.length,
                     "features": [{"sql": x.sql, "max_values": x.max_values,
                                   "clkhash": x.clkhash_schema(f.length, f.column)} for x in f.features]}
                    for f in FILTERS],
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


# --- encoding --------------------------------------------------------------------------------------------


def _values(cell: Any) -> list[str]:
    """A feature's values for one record: never an empty string (a missing value sets no bits)."""
    items = cell if isinstance(cell, list) else [cell]
    return [v for v in items if isinstance(v, str) and v]


@cache
def _clk_schema(feature: Feature, length: int, group: str) -> clkschema.Schema:
    return clkschema.from_json_dict(feature.clkhash_schema(length, group))


def _encode_feature(feature: Feature, flt: Filter, cells: Sequence[Any], clk_secret: bytes,
                    into: list[bitarray | None]) -> None:
    """OR one feature's bits into each record's filter. Each distinct value is hashed once: names,
    dates and ZIP codes repeat, so this is most of the speed."""
    per_record = [_values(c)[: feature.max_values] for c in cells]
    distinct = sorted({v for vs in per_record for v in vs})
    if not distinct:
        return
    schema = _clk_schema(feature, flt.length, flt.column)
    # max_workers=1: no processes forked from a process that holds DuckDB's threads.
    encoded = dict(zip(distinct, clk.generate_clks([[v] for v in distinct], schema, clk_secret, max_workers=1),
                       strict=True))
    for i, vs in enumerate(per_record):
        for v in vs:
            current = into[i]
            into[i] = encoded[v].copy() if current is None else current | encoded[v]


def _feature_sql() -> str:
    """The select list that turns standardised records into every feature's values (one column each)."""
    return ", ".join(f'{x.sql} AS "{f.column}.{x.name}"' for f in FILTERS for x in f.features)


def encode_records(con: Any, raw_table: str, secret: bytes) -> pa.Table:
    """Encode the records of ``raw_table`` (the :func:`justicelab.linkage.records.gather` shape) in the DuckDB
    connection ``con``, standardised exactly as the linkage standardises cleartext.

    Returns ``record_id``, ``name_bf``, ``dob_bf``, ``address_bf`` (base64 text, null when nothing was
    known) and ``person_key`` (hex, null without a source person id), ordered by record id.
    """
    standardise(con, raw_table, "jl_pprl_std")
    try:
        features = con.execute(f"SELECT unique_id AS record_id, source_person_id, {_feature_sql()} "
                               "FROM jl_pprl_std ORDER BY unique_id").to_arrow_table()
    finally:
        con.execute("DROP TABLE IF EXISTS jl_pprl_std")
    return _encode_features(features, secret)


def _encode_features(features: pa.Table, secret: bytes) -> pa.Table:
    clk_secret = _subkey(secret, "bloom-filters")
    out: dict[str, pa.Array] = {"record_id": features["record_id"].combine_chunks()}
    for flt in FILTERS:
        filters: list[bitarray | None] = [None] * features.num_rows
        for x in flt.features:
            _encode_feature(x, flt, features[f"{flt.column}.{x.name}"].to_pylist(), clk_secret, filters)
        out[flt.column] = pa.array([None if b is None else base64.b64encode(b.tobytes()).decode() for b in filters],
                                   pa.string())
    out["person_key"] = pa.array(person_keys(secret, features["source_person_id"].to_pylist()), pa.string())
    return pa.table(out)


# --- for the platform: the SQL (bit_sql, dice_sql) lives in linkage.bloom; this is the Python twin -----------


def dice(left: str, right: str) -> float:
    """The Dice coefficient of two stored filters (base64 text), in Python: for tests and spot checks."""
    x, y = (int.from_bytes(base64.b64decode(v), "big") for v in (left, right))
    total = x.bit_count() + y.bit_count()
    return 2 * (x & y).bit_count() / total if total else 0.0
