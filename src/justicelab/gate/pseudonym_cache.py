"""Pseudonyms remembered for the life of one DuckDB connection, so a reader's next read does not hash again.

For each grantee key and column (the pseudonym's domain) a TEMP table maps a value (as text) to its
pseudonym. When a reader repeats a whole read (no ``where``, no ``limit``) on the same connection, the gate
fills the maps from the rows the read restricts to, hashing once per distinct value not there yet, and
joins them instead of hashing every row. The first such read of a connection (every CLI read) hashes in
the query as if there were no cache: filling and joining costs about a quarter more than hashing in place,
worth paying only once a read is repeated. Why this keeps the pseudonyms' properties:

* It lives in the connection's temporary tables (memory, or DuckDB's temporary spill files), gone when the
  connection closes; never in the warehouse file. The gate secret is kept apart from the warehouse so that
  the warehouse alone cannot tie a reader's pseudonym to a person; a map stored in it would undo that.
* An entry is a pure function of (key, domain, value), so it cannot go stale: a new gate secret gives the
  grantee a new key, whose fingerprint names new tables (the old key's are dropped), and values that
  appeared since the fill (a new batch, a relink) are simply not in the map.
* The query reads ``COALESCE(cached, computed)``: a value the map lacks is hashed in the query itself, so a
  map that lags behind the data costs time, never correctness. A fill is redone (for the missing values
  only) when the restriction or the row count of a table the rows come from changed since the last one.
* At most ``max_values`` values per connection: least recently used maps are dropped first.
"""

from __future__ import annotations

import secrets
import weakref
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import duckdb
import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from justicelab.gate.pseudonyms import GranteeKey, Pseudonymiser
from justicelab.warehouse import Warehouse

DEFAULT_MAX_VALUES = 5_000_000  # about 100 bytes each in DuckDB's memory: half a gigabyte at most
VALUE, PSEUDONYM = "jl_value", "jl_pseudonym"

_CACHES: weakref.WeakKeyDictionary[Warehouse, PseudonymCache] = weakref.WeakKeyDictionary()


@dataclass
class _Map:
    """One grantee key's map for one domain: its table, its size, when last used, what filled it."""

    table: str
    grantee: str
    values: int = 0
    used: int = 0
    filled: dict[int, tuple[tuple[str, int], ...]] = field(default_factory=dict)  # hash(source) -> row counts


class PseudonymCache:
    """The pseudonym maps of one DuckDB connection (use one connection from one thread at a time)."""

    def __init__(self, backend: BaseBackend, max_values: int = DEFAULT_MAX_VALUES) -> None:
        self._backend = backend
        self.max_values = max_values
        self._maps: dict[tuple[str, str], _Map] = {}
        self._clock = 0
        self._seen: set[tuple[str, int]] = set()  # (key fingerprint, hash(source)) of the whole reads made
        self._token = secrets.token_hex(4)  # two caches on one connection never share a table

    @classmethod
    def of(cls, warehouse: Warehouse) -> PseudonymCache | None:
        """The warehouse connection's cache (made on first use); None on engines other than DuckDB."""
        if warehouse.kind != "duckdb":
            return None
        cache = _CACHES.get(warehouse)
        if cache is None:
            cache = _CACHES[warehouse] = cls(warehouse.ibis)
        return cache

    @property
    def values(self) -> int:
        """How many values are cached, all keys and domains together."""
        return sum(m.values for m in self._maps.values())

    def maps(self, rows: ir.Table, source: Hashable, pseudonymiser: Pseudonymiser,
             domains: Sequence[str]) -> dict[str, ir.Table]:
        """Each domain's map (``jl_value``, ``jl_pseudonym``) for a whole read of ``rows`` (``source`` says what
        they select), filled first with the values of ``rows``' column of that name unless that was done with
        the same table row counts; none on the first read of ``source`` by this key.

        Sources are told apart by their hash: a collision can only cost or save a fill, never change a value.
        """
        key = pseudonymiser.key
        self._forget_other_keys(key)
        read = (key.fingerprint, hash(source))
        if read not in self._seen:
            self._seen.add(read)
            return {}
        counts = self._row_counts(rows)
        out = {}
        for domain in domains:
            entry = self._map(key, domain)
            if entry.filled.get(read[1]) != counts:
                try:
                    self._fill(entry, rows, domain, pseudonymiser)
                except duckdb.Error:  # e.g. out of memory: the read hashes these values itself
                    self._drop((key.fingerprint, domain))
                    continue
                entry.filled[read[1]] = counts
            self._clock += 1
            entry.used = self._clock
            out[domain] = self._backend.table(entry.table)
        return out

    def trim(self) -> None:
        """Drop the least recently used maps until at most ``max_values`` values remain."""
        total = self.values
        for name, entry in sorted(self._maps.items(), key=lambda item: item[1].used):
            if total <= self.max_values:
                break
            total -= entry.values
            self._drop(name)

    def clear(self) -> None:
        """Drop every map and forget every read: the connection's next read is its first again."""
        for name in list(self._maps):
            self._drop(name)
        self._seen.clear()

    def _map(self, key: GranteeKey, domain: str) -> _Map:
        name = (key.fingerprint, domain)
        if name not in self._maps:
            table = f"jl_gate_pseudonyms_{self._token}_{key.fingerprint}_{domain}"
            self._backend.create_table(table, schema={VALUE: "string", PSEUDONYM: "string"}, temp=True)
            self._maps[name] = _Map(table, key.grantee)
        return self._maps[name]

    def _fill(self, entry: _Map, rows: ir.Table, domain: str, pseudonymiser: Pseudonymiser) -> None:
        """Insert the pseudonyms of ``rows``' distinct values of ``domain`` that the map does not have yet."""
        values = rows.select(**{VALUE: rows[domain].cast("string")})
        values = values.filter(values[VALUE].notnull()).distinct()
        cached = self._backend.table(entry.table)
        keyed = pseudonymiser.keyed(values.anti_join(cached, values[VALUE] == cached[VALUE]))
        self._backend.insert(entry.table, keyed.select(
            keyed[VALUE], **{PSEUDONYM: pseudonymiser.expr(keyed[VALUE], domain, keyed)}))
        entry.values = int(cached.count().execute())

    def _forget_other_keys(self, key: GranteeKey) -> None:
        """Drop the maps of the grantee's earlier keys (the gate secret changed)."""
        for name, entry in list(self._maps.items()):
            if entry.grantee == key.grantee and name[0] != key.fingerprint:
                self._drop(name)

    def _drop(self, name: tuple[str, str]) -> None:
        entry = self._maps.pop(name, None)
        if entry is not None:
            self._backend.con.execute(f'DROP TABLE IF EXISTS temp.main."{entry.table}"')

    def _row_counts(self, rows: ir.Table) -> tuple[tuple[str, int], ...]:
        """The row count of each warehouse table ``rows`` reads (DuckDB answers from metadata)."""
        tables = {t.name: t for t in rows.op().find(ops.DatabaseTable)}
        return tuple((name, int(tables[name].to_expr().count().execute())) for name in sorted(tables))
