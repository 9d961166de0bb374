"""The linkage attack: every external record joined, in DuckDB, to the released records it is compatible with.

An external record is compatible with a released record when, on every quasi-identifier, the external
value generalised to the release's level equals the released label, or either side is empty (a value
the press release left out or the release suppressed excludes nothing). Released records are first
grouped into classes of equal keys; the join then runs once per pair of "which columns are present"
patterns, each an equi-join on the columns both sides have, so it stays a hash join however many values
are missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from justicelab.ingest.sql import ident
from justicelab.privacy.attack.errors import AttackError
from justicelab.privacy.attack.levels import Codec
from justicelab.privacy.attack.result import SIZE_BUCKETS, AttackResult, Claim
from justicelab.privacy.attack.spec import QuasiIdentifier, Truth, read_metadata, requested, settle, truth
from justicelab.privacy.attack.tables import ROW, Side, load_side
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser

#: Above this many pairs of presence patterns, one join with the compatibility test as its condition.
MAX_PATTERN_PAIRS = 256


def _pattern(n: int) -> str:
    """The presence pattern of keys q0..q{n-1}: bit i set when q{i} is present."""
    return " + ".join(f"(CASE WHEN q{i} IS NULL THEN 0 ELSE {1 << i} END)" for i in range(n))


def _external_keys(con: duckdb.DuckDBPyConnection, external: Side, qis: Sequence[QuasiIdentifier],
                   codecs: Sequence[Codec], truth_column: str | None) -> None:
    """``_jl_ek``: per external record, its values generalised to the release's levels, truth and pattern."""
    keys = ", ".join(f"{c.external_key(ident(q.external_column))} AS q{i}"
                     for i, (q, c) in enumerate(zip(qis, codecs, strict=True)))
    t = ident(truth_column) if truth_column else "CAST(NULL AS VARCHAR)"
    con.execute(f"""CREATE TEMP TABLE _jl_ek AS SELECT *, {_pattern(len(qis))} AS pat FROM
                    (SELECT {ROW} AS id, {keys}, {t} AS truth FROM {external.table})""")


def _release_keys(qis: Sequence[QuasiIdentifier], codecs: Sequence[Codec]) -> str:
    return ", ".join(f"{c.release_key(ident(q.release_column))} AS q{i}"
                     for i, (q, c) in enumerate(zip(qis, codecs, strict=True)))


def _release_classes(con: duckdb.DuckDBPyConnection, release: Side, qis: Sequence[QuasiIdentifier],
                     codecs: Sequence[Codec]) -> None:
    """``_jl_rc``: the release's classes of equal keys, with their size and first row."""
    q = ", ".join(f"q{i}" for i in range(len(qis)))
    con.execute(f"""CREATE TEMP TABLE _jl_rc AS
        SELECT {_pattern(len(qis))} AS pat, {q}, count(*) AS n, min(rid) AS rid
        FROM (SELECT {_release_keys(qis, codecs)}, {ROW} AS rid FROM {release.table}) GROUP BY {q}""")


def _scored_rows(con: duckdb.DuckDBPyConnection, release: Side, qis: Sequence[QuasiIdentifier],
                 codecs: Sequence[Codec], truth_column: str) -> None:
    """``_jl_rk``: keys of the released records whose truth the external file names (to score its records)."""
    keys = _release_keys(qis, codecs)
    t = ident(truth_column)
    con.execute(f"""CREATE TEMP TABLE _jl_rk AS SELECT {ROW} AS id, {keys}, {t} AS truth FROM {release.table}
                    WHERE {t} IN (SELECT truth FROM _jl_ek WHERE truth IS NOT NULL)""")


def _compatible(n: int, a: str, b: str) -> str:
    return " AND ".join(f"({a}.q{i} IS NULL OR {b}.q{i} IS NULL OR {a}.q{i} = {b}.q{i})" for i in range(n))


def _match_sql(con: duckdb.DuckDBPyConnection, n: int) -> str:
    """SQL of (external id, class size, smallest release row) for every compatible (external, class) pair."""
    ext = [int(r[0]) for r in con.execute("SELECT DISTINCT pat FROM _jl_ek ORDER BY 1").fetchall()]
    rel = [int(r[0]) for r in con.execute("SELECT DISTINCT pat FROM _jl_rc ORDER BY 1").fetchall()]
    if len(ext) * len(rel) > MAX_PATTERN_PAIRS:
        return f"SELECT e.id AS eid, c.n, c.rid FROM _jl_ek e JOIN _jl_rc c ON {_compatible(n, 'e', 'c')}"
    parts = []
    for pe in ext:
        for pr in rel:
            on = " AND ".join(f"e.q{i} = c.q{i}" for i in range(n) if (pe & pr) >> i & 1) or "TRUE"
            parts.append(f"SELECT e.id AS eid, c.n, c.rid FROM (SELECT * FROM _jl_ek WHERE pat = {pe}) e "
                         f"JOIN (SELECT * FROM _jl_rc WHERE pat = {pr}) c ON {on}")
    return " UNION ALL ".join(parts)


def _bucket_sql(size: str) -> str:
    whens = " ".join(f"WHEN {size} BETWEEN {lo} AND {hi} THEN '{label}'" if hi is not None
                     else f"WHEN {size} >= {lo} THEN '{label}'" for lo, hi, label in SIZE_BUCKETS)
    return f"CASE {whens} END"


def _warnings(con: duckdb.DuckDBPyConnection, qis: Sequence[QuasiIdentifier]) -> tuple[str, ...]:
    """A quasi-identifier where no external value meets any released label is almost always coded differently
    on the two sides (M vs Male, a date against a year column the standard does not know): say so."""
    out = []
    for i, q in enumerate(qis):
        row = con.execute(f"""
            SELECT count(q{i}), count(q{i}) FILTER (WHERE q{i} IN (SELECT q{i} FROM _jl_rc)),
                   (SELECT count(q{i}) FROM _jl_rc) FROM _jl_ek""").fetchone()
        if row and row[0] and row[2] and not row[1]:
            out.append(f"no value of {q.external_column} in the external file equals a released label of "
                       f"{q.describe()}: are the two coded alike? (name the level with --qi, e.g. "
                       f"{q.release_column}:HIERARCHY.LEVEL)")
    return tuple(out)


def _claims(con: duckdb.DuckDBPyConnection, release: Side, external: Side, qis: Sequence[QuasiIdentifier],
            name_column: str | None) -> tuple[Claim, ...]:
    name = f"x.{ident(name_column)}" if name_column else "NULL"
    labels = ", ".join(f"r.{ident(q.release_column)}" for q in qis)
    rows = con.execute(f"""
        SELECT c.eid, c.rid, {name}, c.et, c.rt, c.ok, {labels}
        FROM _jl_claims c JOIN {external.table} x ON x.{ROW} = c.eid JOIN {release.table} r ON r.{ROW} = c.rid
        ORDER BY c.rid, c.eid""").fetchall()
    columns = [q.release_column for q in qis]
    return tuple(Claim(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], dict(zip(columns, r[6:], strict=True)))
                 for r in rows)


def run(con: duckdb.DuckDBPyConnection, release: Side, external: Side, qis: Sequence[QuasiIdentifier],
        codecs: Sequence[Codec], truth_pair: Truth | None, *, name_column: str | None = None,
        show: bool = False) -> AttackResult:
    """Link ``external`` to ``release`` on checked quasi-identifiers and count the claims (all in DuckDB)."""
    n = len(qis)
    _external_keys(con, external, qis, codecs, truth_pair.external_column if truth_pair else None)
    _release_classes(con, release, qis, codecs)
    con.execute(f"""CREATE TEMP TABLE _jl_m AS
        SELECT e.id AS eid, coalesce(sum(m.n), 0) AS size, min(m.rid) AS rid
        FROM _jl_ek e LEFT JOIN ({_match_sql(con, n)}) m ON m.eid = e.id GROUP BY e.id""")
    rt = f"r.{ident(truth_pair.release_column)}" if truth_pair else "CAST(NULL AS VARCHAR)"
    con.execute(f"""CREATE TEMP TABLE _jl_claims AS
        SELECT m.eid, m.rid, e.truth AS et, {rt} AS rt, e.truth = {rt} AS ok
        FROM _jl_m m JOIN _jl_ek e ON e.id = m.eid JOIN {release.table} r ON r.{ROW} = m.rid WHERE m.size = 1""")
    matched, unique = con.execute(
        "SELECT count(*) FILTER (size > 0), count(*) FILTER (size = 1) FROM _jl_m").fetchone() or (0, 0)
    buckets = dict(con.execute(f"SELECT {_bucket_sql('size')} AS b, count(*) FROM _jl_m GROUP BY b").fetchall())
    sizes = tuple((label, int(buckets.get(label, 0))) for _, _, label in SIZE_BUCKETS)
    correct = incorrect = unverified = in_release = compatible = reidentified = None
    if truth_pair is not None:
        row = con.execute("SELECT count(*) FILTER (ok), count(*) FILTER (NOT ok), count(*) FILTER (ok IS NULL), "
                          "count(DISTINCT rid) FILTER (ok) FROM _jl_claims").fetchone()
        assert row is not None
        correct, incorrect, unverified, reidentified = (int(x) for x in row)
        _scored_rows(con, release, qis, codecs, truth_pair.release_column)
        in_release = int(con.execute(  # type: ignore[index]
            "SELECT count(*) FROM _jl_ek WHERE truth IN (SELECT truth FROM _jl_rk)").fetchone()[0])
        compatible = int(con.execute(  # type: ignore[index]
            f"SELECT count(DISTINCT e.id) FROM _jl_ek e JOIN _jl_rk k ON e.truth = k.truth "
            f"WHERE {_compatible(n, 'e', 'k')}").fetchone()[0])
    claims = _claims(con, release, external, qis, name_column) if show else ()
    return AttackResult(release, external, tuple(qis), truth_pair, int(matched), int(unique), correct, incorrect,
                        unverified, in_release, compatible, reidentified, sizes, claims, _warnings(con, qis))


def attack(
    release: Path | pa.Table,
    external: Path | pa.Table,
    *,
    qi: str | None = None,
    truth_column: str | None = None,
    metadata: Path | None = None,
    name_column: str | None = None,
    show: bool = False,
    generaliser: Generaliser | None = None,
    release_name: str | None = None,
    external_name: str | None = None,
) -> AttackResult:
    """Simulate a linkage attack of ``external`` (press releases, court calendars) against ``release``.

    ``qi`` is the ``--qi`` text (default: the columns both files share); ``truth_column`` names the
    evaluation-only true record id (``NAME`` or ``RELEASE=EXTERNAL``); ``metadata`` is a release metadata
    JSON giving each quasi-identifier's level; ``show`` lists every claim. Files are CSV or Parquet;
    Arrow tables are accepted too (named ``release_name``/``external_name`` in messages).
    """
    generaliser = generaliser or Generaliser(load_standard())
    levels = read_metadata(metadata) if metadata else {}
    con = duckdb.connect()
    try:
        rel = load_side(con, release, "_jl_release", release_name)
        ext = load_side(con, external, "_jl_external", external_name)
        truth_pair = truth(truth_column, rel, ext)
        if name_column is None and "name" in ext.columns:
            name_column = "name"
        elif name_column is not None and name_column not in ext.columns:
            raise AttackError(f"{ext.name} has no column {name_column!r} (--name-column); "
                              f"it has: {', '.join(ext.columns)}")
        excluded = (truth_pair.release_column, truth_pair.external_column) if truth_pair else ()
        pairs = requested(qi, rel, ext, generaliser.standard, excluded, name_column)
        settled = [settle(con, rel, ext, generaliser, r, e, level, levels) for r, e, level in pairs]
        return run(con, rel, ext, [s[0] for s in settled], [s[1] for s in settled], truth_pair,
                   name_column=name_column, show=show)
    finally:
        con.close()
