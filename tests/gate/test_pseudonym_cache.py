"""The pseudonym cache: repeated whole reads join remembered pseudonyms instead of hashing again, and return exactly
what an uncached read returns, per grantee, across a new gate secret, a changed person index and a full cache."""

from __future__ import annotations

import pyarrow as pa
import pytest

from justicelab.control import open_control
from justicelab.gate import GateSecret, PseudonymCache, grantee_key, read, reference_pseudonym
from justicelab.warehouse import Warehouse
from tests.gate.access import grant, seed_citation_access
from tests.gate.sample import ROWS, SECRET, STANDARD, generaliser, load_citations

OTHER_SECRET = GateSecret(bytes(range(1, 33)))


@pytest.fixture
def env(tmp_path):
    db = open_control(str(tmp_path / "control.sqlite"))
    seed_citation_access(db, tmp_path)
    grant(db, principal="role:mdt_member", level="deidentified")
    grant(db, principal="role:researcher", level="deidentified")
    with Warehouse.open(str(tmp_path / "wh.duckdb")) as wh:
        load_citations(wh)
        yield wh, db, tmp_path
    db.close()


def gate_read(env, user: str = "bob", secret: GateSecret = SECRET, **kwargs) -> pa.Table:
    wh, db, root = env
    purpose = "research" if user == "rita" else "MDT case review"
    result = read(wh, db, root, user, "citation", purpose, standard=STANDARD, generaliser=generaliser(),
                  secret=secret, **kwargs)
    return result.table.sort_by("_record_id")


def expected(env, user: str = "bob", secret: GateSecret = SECRET) -> pa.Table:
    """The same read without the cache, after checking its pseudonyms against the Python reference."""
    table = gate_read(env, user, secret, cache=False)
    key = grantee_key(secret, f"user:{user}")
    index = {reference_pseudonym(key, "_record_id", r["_record_id"]): r for r in current_rows(env)}
    for row in table.to_pylist():
        raw = index[row["_record_id"]]
        assert row["person_id"] == reference_pseudonym(key, "person_id", raw["person_id"])
        assert row["source_person_id"] == reference_pseudonym(key, "source_person_id", raw["source_person_id"])
    return table


def current_rows(env) -> list[dict]:
    """The citation rows with their person ids as the warehouse holds them now."""
    wh = env[0]
    return [{"_record_id": r, "source_person_id": s, "person_id": p} for r, s, p in wh.execute(
        "SELECT c._record_id, c.source_person_id, i.person_id FROM citation c "
        "LEFT JOIN person_index i ON i.record_id = c._record_id")]


def cache_tables(wh: Warehouse) -> list[tuple[str, bool]]:
    """(name, temporary) of the cache's tables: ``jl_gate_pseudonyms_<cache>_<key fingerprint>_<column>``."""
    return wh.execute("SELECT table_name, temporary FROM duckdb_tables() "
                      "WHERE table_name LIKE 'jl_gate_pseudonyms_%' ORDER BY table_name")


def fingerprint_and_column(name: str) -> tuple[str, str]:
    return name.split("_", 5)[4], name.split("_", 5)[5]


def test_the_first_read_hashes_in_the_query_the_second_fills_the_cache_and_all_agree(env):
    wh = env[0]
    cache = PseudonymCache.of(wh)
    assert cache is not None and cache is PseudonymCache.of(wh)
    want = expected(env)
    assert cache.values == 0 and not cache_tables(wh)  # cache=False leaves no trace
    assert gate_read(env).equals(want)
    assert cache.values == 0  # a connection's first read (every CLI read) fills nothing
    assert gate_read(env).equals(want)
    persons = {r["person_id"] for r in ROWS if r["person_id"]}
    sources = {r["source_person_id"] for r in ROWS}
    assert cache.values == len(ROWS) + len(persons) + len(sources)
    assert gate_read(env).equals(want)
    # later reads really take the pseudonyms from the cache: a tampered entry shows, a missing one is recomputed
    maps = {fingerprint_and_column(name)[1]: name for name, _ in cache_tables(wh)}
    first = ROWS[0]
    wh.execute(f"UPDATE \"{maps['_record_id']}\" SET jl_pseudonym = 'p_tampered' WHERE jl_value = "
               f"'{first['_record_id']}'")
    wh.execute(f"DELETE FROM \"{maps['_record_id']}\" WHERE jl_value = '{ROWS[1]['_record_id']}'")
    got = gate_read(env).column("_record_id").to_pylist()
    key = grantee_key(SECRET, "user:bob")
    assert "p_tampered" in got and reference_pseudonym(key, "_record_id", first["_record_id"]) not in got
    assert reference_pseudonym(key, "_record_id", ROWS[1]["_record_id"]) in got


def test_lookups_and_capped_reads_do_not_fill_the_cache(env):
    cache = PseudonymCache.of(env[0])
    assert cache is not None
    for _ in range(3):
        assert gate_read(env, limit=3).num_rows == 3
    assert cache.values == 0 and not cache_tables(env[0])


def test_two_readers_keep_unrelated_pseudonyms_through_the_cache(env):
    want = {user: expected(env, user) for user in ("bob", "rita")}
    for _ in range(3):  # alternate, so that each fills its own maps and reads them back while the other's exist
        for user in ("bob", "rita"):
            assert gate_read(env, user).equals(want[user])
    bob, rita = (set(want[u].column(c).to_pylist()) for u in ("bob", "rita") for c in ("person_id",))
    assert bob - {None} and not (bob & rita) - {None}
    fingerprints = {grantee_key(SECRET, f"user:{u}").fingerprint for u in ("bob", "rita")}
    assert {fingerprint_and_column(name)[0] for name, _ in cache_tables(env[0])} == fingerprints


def test_a_new_gate_secret_gives_new_pseudonyms_and_drops_the_old_keys_maps(env):
    old = grantee_key(SECRET, "user:bob").fingerprint
    for _ in range(3):
        gate_read(env)
    assert {fingerprint_and_column(name)[0] for name, _ in cache_tables(env[0])} == {old}
    want = expected(env, secret=OTHER_SECRET)
    assert not want.equals(expected(env))
    for _ in range(3):
        assert gate_read(env, secret=OTHER_SECRET).equals(want)
    keys = {fingerprint_and_column(name)[0] for name, _ in cache_tables(env[0])}
    assert keys == {grantee_key(OTHER_SECRET, "user:bob").fingerprint}


def test_a_relinked_or_grown_person_index_reads_the_current_persons(env):
    wh = env[0]
    for _ in range(3):
        gate_read(env)
    # relink in place (same row counts): P000002's records now belong to P000099
    wh.execute("UPDATE person_index SET person_id = 'P000099' WHERE person_id = 'P000002'")
    assert gate_read(env).equals(expected(env))
    # a new record of a new person (the counts change, so the cache is topped up)
    new = {**ROWS[0], "_record_id": "police_citations:C000011", "_source_row": 12, "citation_number": "C000011",
           "source_person_id": "SP-NEW-1", "person_id": "P000100"}
    load_citations(wh, [new])
    cache = PseudonymCache.of(wh)
    assert cache is not None
    before = cache.values
    got = gate_read(env)
    assert got.num_rows == len(ROWS) + 1 and got.equals(expected(env))
    assert cache.values > before


def test_the_cache_stays_in_memory_within_its_limit(env, tmp_path):
    wh = env[0]
    cache = PseudonymCache.of(wh)
    assert cache is not None
    cache.max_values = 12
    want = expected(env)
    assert gate_read(env).equals(want)
    for _ in range(3):  # three maps of 10 records, 10 source ids and 6 persons: the oldest give way
        assert gate_read(env).equals(want)
        assert 0 < cache.values <= 12
    assert cache_tables(wh) and all(temporary for _, temporary in cache_tables(wh))
    cache.clear()
    assert cache.values == 0 and not cache_tables(wh)
    for _ in range(2):
        gate_read(env)
    assert cache_tables(wh)
    wh.close()
    with Warehouse.open(str(tmp_path / "wh.duckdb")) as reopened:  # nothing was written to the warehouse file
        assert not cache_tables(reopened)
