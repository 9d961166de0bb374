"""Keyed pseudonyms computed inside the database: HMAC-SHA256 per grantee, the same on DuckDB and PostgreSQL.

Construction (exactly RFC 2104 HMAC, so Python's :mod:`hmac` is its oracle)::

    k_g       = HMAC-SHA256(workspace gate secret, "justicelab/gate/pseudonym/v1:" + grantee)
    pseudonym = "p_" + hex(HMAC-SHA256(k_g, domain + ":" + value))[:20]

``domain`` is the column name (``person_id``, ``_record_id``, ``citation_number``...), so the same text in
two different columns gives unrelated pseudonyms, while one person's ``person_id`` gets one pseudonym in
every dataset a grantee reads (their own extracts join; nobody else's do). ``value`` is the column cast
to text, encoded as UTF-8; NULL stays NULL.

Why it is safe: HMAC-SHA256 is a pseudorandom function under a secret key, so without ``k_g`` a
pseudonym reveals nothing about the value and cannot be recomputed from a guessed value (person ids
and record numbers are easy to enumerate, which rules out a plain hash). ``k_g`` is derived one-way
from the workspace secret, so one grantee's key tells nothing about another's nor about the secret.
SQL has no HMAC, but both engines have SHA-256 over bytes (DuckDB ``sha256(BLOB)``, PostgreSQL
``sha256(bytea)`` since v11), and HMAC is two such hashes over ``(k_g XOR ipad) || message`` and
``(k_g XOR opad) || inner digest``. The two padded keys are computed here. On DuckDB the bytes are
joined with its BLOB ``||`` operator; on PostgreSQL they travel between the steps as hexadecimal text
(``encode``/``decode``, documented functions only). The padded keys reach the database in a one-row
in-memory table, cross-joined to the rows being pseudonymised (:meth:`Pseudonymiser.keyed`; a scalar
subquery per use is about a fifth slower on DuckDB) and never written as literals, so the SQL text of a
gated query (shown to users, logged, fingerprinted for the audit) carries no key material.

Length: 20 hexadecimal characters are 80 bits. Among n = 10 million persons the chance that any two
share a pseudonym is about n^2 / 2^81 = 4e-11 (birthday bound); 16 characters (64 bits) would give
3e-6 and 12 characters (48 bits) about 1 in 6, which is why the cut is not shorter. A collision would
merge two persons in one extract, so it must stay negligible, not merely rare.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from justicelab.errors import GateError
from justicelab.gate.secret import GateSecret

PREFIX = "p_"
HEX_CHARS = 20
_LABEL = "justicelab/gate/pseudonym/v1:"
_FINGERPRINT_LABEL = b"justicelab/gate/pseudonym-key-fingerprint/v1"
_BLOCK = 64  # SHA-256 block size in bytes
INNER, OUTER = "jl_key_inner", "jl_key_outer"  # the padded keys' columns once cross-joined


@dataclass(frozen=True)
class GranteeKey:
    """The pseudonym key of one grantee (derived from the workspace secret); its bytes are never shown."""

    grantee: str
    key: bytes = field(repr=False)

    def padded(self) -> tuple[str, str]:
        """The HMAC inner and outer padded keys, as lowercase hexadecimal text."""
        block = self.key.ljust(_BLOCK, b"\0")
        return bytes(b ^ 0x36 for b in block).hex(), bytes(b ^ 0x5C for b in block).hex()

    @property
    def fingerprint(self) -> str:
        """16 hexadecimal characters that tell keys apart (a PRF output under the key: they reveal nothing of it)."""
        return hmac.new(self.key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def grantee_key(secret: GateSecret, grantee: str) -> GranteeKey:
    """The key that pseudonymises what ``grantee`` (e.g. ``user:alice``) reads."""
    if not grantee:
        raise GateError("a pseudonym key needs a grantee identity")
    return GranteeKey(grantee, secret.derive(_LABEL + grantee))


def reference_pseudonym(key: GranteeKey, domain: str, value: str | None) -> str | None:
    """The pseudonym of one value, in Python: the specification the SQL of :class:`Pseudonymiser` matches."""
    if value is None:
        return None
    digest = hmac.new(key.key, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_CHARS]


# Built-in functions, declared per engine (their names match but their types differ).
@ibis.udf.scalar.builtin(name="left")
def _left(text: str, count: int) -> str:  # type: ignore[empty-body]
    """left(text, n): the first n characters (the same built-in on DuckDB and PostgreSQL)."""


@ibis.udf.scalar.builtin(name="sha256")
def _duck_sha256(data: bytes) -> str:  # type: ignore[empty-body]
    """DuckDB sha256(BLOB) -> lowercase hex."""


@ibis.udf.scalar.builtin(name="unhex")
def _duck_unhex(text: str) -> bytes:  # type: ignore[empty-body]
    """DuckDB unhex(VARCHAR) -> BLOB."""


@ibis.udf.scalar.builtin(name="encode")
def _duck_encode(text: str) -> bytes:  # type: ignore[empty-body]
    """DuckDB encode(VARCHAR) -> its UTF-8 bytes."""


@ibis.udf.scalar.builtin(name="||")
def _duck_concat(left: bytes, right: bytes) -> bytes:  # type: ignore[empty-body]
    """DuckDB's BLOB || BLOB operator, called by name (ibis has no binary concatenation)."""


@ibis.udf.scalar.builtin(name="sha256")
def _pg_sha256(data: bytes) -> bytes:  # type: ignore[empty-body]
    """PostgreSQL sha256(bytea) -> bytea."""


@ibis.udf.scalar.builtin(name="decode")
def _pg_decode(text: str, fmt: str) -> bytes:  # type: ignore[empty-body]
    """PostgreSQL decode(text, 'hex') -> bytea."""


@ibis.udf.scalar.builtin(name="encode")
def _pg_encode(data: bytes, fmt: str) -> str:  # type: ignore[empty-body]
    """PostgreSQL encode(bytea, 'hex') -> lowercase hex."""


@ibis.udf.scalar.builtin(name="convert_to")
def _pg_convert_to(text: str, encoding: str) -> bytes:  # type: ignore[empty-body]
    """PostgreSQL convert_to(text, 'UTF8') -> bytea."""


def _duck_hmac(inner: ir.Value, outer: ir.Value, message: ir.StringValue) -> ir.StringValue:
    """HMAC on DuckDB: padded keys as BLOBs, joined to the message bytes with BLOB ||; returns lowercase hex."""
    return _duck_sha256(_duck_concat(outer, _duck_unhex(_duck_sha256(_duck_concat(inner, _duck_encode(message))))))


def _pg_hmac(inner: ir.Value, outer: ir.Value, message: ir.StringValue) -> ir.StringValue:
    """HMAC on PostgreSQL: bytes joined as hexadecimal text (only documented functions), decoded to hash."""
    def sha256_of_hex(hex_text: ir.StringValue) -> ir.StringValue:
        return _pg_encode(_pg_sha256(_pg_decode(hex_text, "hex")), "hex")

    return sha256_of_hex(outer.concat(sha256_of_hex(inner.concat(_pg_encode(_pg_convert_to(message, "UTF8"), "hex")))))


def _pads(key: GranteeKey, engine: str) -> ir.Table:
    """A one-row in-memory table of the padded keys: BLOBs for DuckDB, hexadecimal text for PostgreSQL."""
    inner, outer = key.padded()
    if engine == "duckdb":
        return ibis.memtable(pa.table({INNER: [bytes.fromhex(inner)], OUTER: [bytes.fromhex(outer)]}))
    return ibis.memtable({INNER: [inner], OUTER: [outer]}, schema={INNER: "string", OUTER: "string"})


_ENGINES: dict[str, Callable[[ir.Value, ir.Value, ir.StringValue], ir.StringValue]] = {
    "duckdb": _duck_hmac, "postgres": _pg_hmac}
ENGINES = tuple(_ENGINES)


def engine_of(table: ir.Table) -> str:
    """The engine a table expression runs on (``duckdb`` or ``postgres``), or a GateError naming the choices."""
    name = str(table._find_backend(use_default=True).name)
    if name not in _ENGINES:
        raise GateError(f"the gate computes pseudonyms on {' and '.join(ENGINES)} only, not on {name}")
    return name


class Pseudonymiser:
    """Builds pseudonym expressions for one grantee on one engine."""

    def __init__(self, key: GranteeKey, engine: str) -> None:
        if engine not in _ENGINES:
            raise GateError(f"the gate computes pseudonyms on {' and '.join(ENGINES)} only, not on {engine}")
        self.key = key
        self.engine = engine
        self._pads = _pads(key, engine)

    @classmethod
    def for_table(cls, key: GranteeKey, table: ir.Table) -> Pseudonymiser:
        """A pseudonymiser for the engine ``table`` runs on."""
        return cls(key, engine_of(table))

    def keyed(self, table: ir.Table) -> ir.Table:
        """``table`` with the padded keys as two more columns (a cross join with their one-row table)."""
        return table.cross_join(self._pads)

    def expr(self, value: ir.Value, domain: str, keyed: ir.Table | None = None) -> ir.StringValue:
        """The pseudonym of ``value`` (cast to text) in ``domain``: ``p_`` + 20 hex characters, NULL for NULL.

        ``keyed`` is the :meth:`keyed` table ``value`` belongs to; without it the keys are read by scalar
        subqueries (simpler to use on any table, slower on many rows).
        """
        if keyed is None:
            inner, outer = self._pads[INNER].as_scalar(), self._pads[OUTER].as_scalar()
        else:
            inner, outer = keyed[INNER], keyed[OUTER]
        message = ibis.literal(f"{domain}:").concat(value.cast("string"))
        return ibis.literal(PREFIX).concat(_left(_ENGINES[self.engine](inner, outer, message), HEX_CHARS))
