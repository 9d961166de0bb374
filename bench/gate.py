"""Benchmark: the gate's cost. (a) A 1,000,000-row read at the deidentified level through ``justicelab.gate.read``
(grant composition, keyed pseudonyms, generalisation, the audit-ledger entry) against two baselines without
the gate: a plain select of the same columns of the same table, joined to the person index the same way
(what the rows cost to read at all), and the same query without the gate: hand-written DuckDB SQL giving
exactly the gate's output (the same keyed HMAC pseudonyms, person keys hashed once per distinct person,
the same generalisations) with no grant composition, no row rules and no ledger entry. The bench checks
that the hand-written query and the gate return the same rows. The gate is timed four ways, its pseudonym
cache (``justicelab.gate.pseudonym_cache``) emptied as needed before each timed read: off; the first read
of a connection (what every CLI read costs: it hashes in the query); the second read, which fills the
cache (cold); and later reads, which join it (warm).
(b) A permission check (grant composition) for one user among 10,000 grants, against a naive
check that loads every grant and tests each in Python.

The table is a citation table made in DuckDB SQL: ``--rows`` records of ``--rows / 4`` persons (a few have
many records, most one or two), a source person id per person, dates, ages, ZIP codes and agencies spread
as in the synthetic city. Times are the best (and median) of ``--repeat`` runs after one warm-up; the reads
of (a) run in turn, round after round, so that a busy machine slows them alike.

    .venv/bin/python bench/gate.py                  # 1,000,000 rows, 10,000 grants
    .venv/bin/python bench/gate.py --rows 200000 --grants 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from justicelab.control import open_control, valid_grants
from justicelab.control.accounts import add_department, add_user, get_user
from justicelab.control.agreements import add_agreement
from justicelab.control.datasets import add_dataset
from justicelab.control.grants import add_grant, same_purpose
from justicelab.control.levels import Level
from justicelab.control.models import Agreement, Dataset, Grant, User
from justicelab.control.periods import utcnow
from justicelab.gate import GateSecret, PseudonymCache, compose, grantee_key, read, readable_table
from justicelab.linkage.store import PERSON_INDEX, SCHEMAS
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser, Warehouse, ensure_entity_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.gate.access import agreement

STANDARD = load_standard()
AGENCIES = {f"A{i:02d}": county for i, county in enumerate(
    ["sacramento", "yolo", "placer", "el_dorado", "sutter", "yuba", "solano", "san_joaquin"] * 3)}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """(last result, best seconds, median seconds) over ``repeat`` runs after one warm-up."""
    fn()
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, min(times), statistics.median(times)


def race(contenders: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]],
         rounds: int) -> list[tuple[str, Any, float, float]]:
    """(name, last result, best, median seconds) of each contender, run in turn ``rounds`` times after a warm-up
    round, so that a busy machine slows them alike; each one's setup (if any) runs untimed before each run."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
    results: dict[str, Any] = {}
    for round_ in range(rounds + 1):
        for name, fn, setup in contenders:
            if setup is not None:
                setup()
            start = time.perf_counter()
            results[name] = fn()
            if round_:
                times[name].append(time.perf_counter() - start)
    return [(name, results[name], min(times[name]), statistics.median(times[name])) for name, _, _ in contenders]


def build_warehouse(path: Path, rows: int) -> None:
    """A citation table of ``rows`` records, its person index and the agency directory, all in DuckDB SQL."""
    persons = max(rows // 4, 1)
    agencies = list(AGENCIES)
    with Warehouse.open(str(path)) as wh:
        ensure_entity_table(wh, STANDARD.entity("citation"))
        ensure_entity_table(wh, STANDARD.entity("agency"))
        wh.ensure_table(PERSON_INDEX, SCHEMAS[PERSON_INDEX])
        agency_case = " ".join(f"WHEN {i} THEN '{a}'" for i, a in enumerate(agencies))
        # person p owns records where (i * 2654435761) mod persons == p, skewed: a quarter of the records go to
        # the first 2% of persons (the frequent utilizers)
        wh.execute(f"""
            CREATE TEMP TABLE jl_bench AS SELECT i,
              CASE WHEN i % 4 = 0 THEN (hash(i) % {max(persons // 50, 1)}) ELSE hash(i * 7) % {persons} END AS p
            FROM range({rows}) r(i)""")
        wh.execute(f"""
            INSERT INTO citation (_record_id, _source, _batch_id, _source_row, source_person_id, last_name,
              first_name, middle_name, date_of_birth, age, sex, race_ethnicity, address, city, zip, citation_number,
              citation_date, agency_code, offense_code, offense_description, offense_level, location,
              officer_badge, court_date)
            SELECT 'police_citations:C' || lpad(i::VARCHAR, 9, '0'), 'police_citations', 1 + i // 100000,
              i % 100000 + 2, 'SP' || lpad(p::VARCHAR, 8, '0'), 'LAST' || (p % 9973)::VARCHAR,
              'FIRST' || (p % 613)::VARCHAR, NULL, DATE '1940-01-01' + (p * 37 % 25000)::INTEGER,
              18 + (p + i // 1000) % 60, CASE p % 3 WHEN 0 THEN 'F' ELSE 'M' END,
              CASE p % 5 WHEN 0 THEN 'hispanic' WHEN 1 THEN 'white' WHEN 2 THEN 'black' WHEN 3 THEN 'asian'
                ELSE 'other' END,
              (p % 4999)::VARCHAR || ' OAK ST', 'ALDER BAY', (95600 + p % 400)::VARCHAR,
              'C' || lpad(i::VARCHAR, 9, '0'), DATE '2016-01-01' + (i % 2900)::INTEGER,
              CASE i % {len(agencies)} {agency_case} END, 'PC 647(e)', 'Illegal lodging',
              CASE i % 7 WHEN 0 THEN 'felony' WHEN 1 THEN 'infraction' ELSE 'misdemeanor' END,
              (i % 300)::VARCHAR || '00 BLK K ST', 'B' || (i % 400)::VARCHAR,
              DATE '2016-02-01' + (i % 2900)::INTEGER
            FROM jl_bench""")
        wh.execute("""
            INSERT INTO person_index SELECT 'police_citations:C' || lpad(i::VARCHAR, 9, '0'),
              'PER-' || lpad(p::VARCHAR, 8, '0'), 'police_citations', 'citation', 1, true, 'x' FROM jl_bench""")
        values = ", ".join(f"('{a}', '{c}', 'agencies:{a}', 'agencies', 1, {n + 2})"
                           for n, (a, c) in enumerate(AGENCIES.items()))
        wh.execute(f"INSERT INTO agency (agency_code, county, _record_id, _source, _batch_id, _source_row) "
                   f"VALUES {values}")


def hmac_sql(message: str) -> str:
    """The gate's pseudonym written by hand: HMAC-SHA256 with the padded keys of the one-row table ``k``."""
    return f"'p_' || left(sha256(k.outer || unhex(sha256(k.inner || encode({message})))), 20)"


def same_output_sql() -> str:
    """The deidentified read of citation by hand: what the gate returns, with none of its machinery."""
    def person(column: str, values: str) -> str:  # one HMAC per distinct person, joined back
        pseudonym = hmac_sql(f"'{column}:' || v")
        return f"(SELECT v, {pseudonym} AS p FROM (SELECT DISTINCT {values}) d, jl_bench_key k)"
    return f"""
        WITH indexed AS (SELECT record_id, person_id FROM person_index WHERE entity = 'citation')
        SELECT {hmac_sql("'_record_id:' || c._record_id")} AS _record_id, c._source,
          sp.p AS source_person_id, strftime(c.date_of_birth, '%Y') AS date_of_birth,
          CAST(c.age // 5 * 5 AS VARCHAR) || '-' || CAST(c.age // 5 * 5 + 4 AS VARCHAR) AS age,
          c.sex, c.race_ethnicity, substr(c.zip, 1, 3) AS zip, strftime(c.citation_date, '%Y-%m') AS citation_date,
          a.county AS agency_code, c.offense_code, c.offense_description, c.offense_level,
          strftime(c.court_date, '%Y-%m') AS court_date, pp.p AS person_id
        FROM citation c CROSS JOIN jl_bench_key k
        LEFT JOIN indexed i ON i.record_id = c._record_id
        LEFT JOIN agency a ON a.agency_code = c.agency_code
        LEFT JOIN {person("source_person_id", "source_person_id AS v FROM citation")} sp
          ON sp.v = c.source_person_id
        LEFT JOIN {person("person_id", "person_id AS v FROM indexed")} pp ON pp.v = i.person_id"""


def same_rows(wh: Warehouse, a: Any, b: Any) -> bool:
    """Whether two Arrow tables hold the same rows (as multisets, whatever their string types)."""
    con = wh.raw
    con.register("jl_bench_a", a)
    con.register("jl_bench_b", b)
    try:
        return all(con.execute(f"SELECT count(*) FROM (SELECT * FROM {x} EXCEPT ALL SELECT * FROM {y})")
                   .fetchone()[0] == 0 for x, y in (("jl_bench_a", "jl_bench_b"), ("jl_bench_b", "jl_bench_a")))
    finally:
        con.unregister("jl_bench_a")
        con.unregister("jl_bench_b")


def seed_control(path: Path, folder: Path, grants: int) -> Any:
    """root, police and health, researcher rita with one deidentified grant on citation; ``grants`` grants in all
    (the others to other users, roles and departments, on citation and booking), inserted in bulk."""
    db = open_control(str(path))
    with db.session() as s:
        root = add_user(s, None, "root", roles=["admin"])
        for code in ("police", "health", "sheriff"):
            add_department(s, root, code, code.title())
        add_user(s, root, "rita", roles=["researcher"], departments=["police"])
        add_dataset(s, root, "citation", "police")
        add_dataset(s, root, "booking", "sheriff")
        add_agreement(s, root, agreement(folder, "dsa", parties=["police", "health", "sheriff"],
                                         datasets=[{"dataset": "citation"}, {"dataset": "booking"}]))
        add_grant(s, get_user(s, "root"), dataset="citation", principal="role:researcher", level="deidentified",
                  agreement="dsa", purpose="research")
    with db.session() as s:  # the other grants, in bulk: what matters is how many rows the check must face
        citation = s.scalar(select(Dataset.id).where(Dataset.name == "citation"))
        booking = s.scalar(select(Dataset.id).where(Dataset.name == "booking"))
        ag = s.scalar(select(Agreement.id).where(Agreement.code == "dsa"))
        today = utcnow().date()
        kinds = [("user", lambda n: f"user{n:05d}"), ("department", lambda n: f"dept{n % 300:03d}"),
                 ("role", lambda n: "analyst" if n % 2 else "mdt_member")]
        rows = []
        for n in range(grants - 1):
            kind, name = kinds[n % 3]
            rows.append({"dataset_id": citation if n % 2 else booking, "principal_kind": kind,
                         "principal_name": name(n), "level": "deidentified", "fields": None, "row_rule": None,
                         "agreement_id": ag, "purpose": None, "starts": today, "expires": today + dt.timedelta(300),
                         "created_at": utcnow(), "created_by": "root"})
        s.execute(insert(Grant), rows)
    return db


def naive_check(db: Any, user: str, dataset: str, purpose: str) -> list[int]:
    """The baseline: load every grant with its agreement and test each one in Python."""
    with db.session() as s:
        person = s.scalar(select(User).where(User.username == user))
        assert person is not None
        mine = {f"user:{person.username}", *(f"role:{r}" for r in person.roles),
                *(f"department:{d}" for d in person.department_codes)}
        day = utcnow().date()
        out = []
        for g in s.scalars(select(Grant)):
            if (f"{g.principal_kind}:{g.principal_name}" in mine and g.dataset.name == dataset
                    and g.revoked_at is None and g.starts <= day <= g.expires and g.agreement.starts <= day
                    <= g.agreement.ends and any(same_purpose(p, purpose) for p in g.agreement.purposes)
                    and (g.purpose is None or same_purpose(g.purpose, purpose))):
                out.append(g.id)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--grants", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jl_bench_gate_") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        build_warehouse(folder / "wh.duckdb", args.rows)
        db = seed_control(folder / "control.sqlite", folder, args.grants)
        print(f"setup: {args.rows:,} citation rows, {args.grants:,} grants in {time.perf_counter() - start:.1f} s")
        secret = GateSecret.load_or_create(folder)
        with Warehouse.open(str(folder / "wh.duckdb")) as wh:
            generaliser = Generaliser.for_warehouse(STANDARD, wh)
            cache = PseudonymCache.of(wh)
            assert cache is not None

            def gated(use_cache: bool = True) -> Any:
                return read(wh, db, folder, "rita", "citation", "research", standard=STANDARD,
                            generaliser=generaliser, secret=secret, cache=use_cache)

            probe = gated()
            columns = probe.columns
            table = readable_table(wh, STANDARD.entity("citation"))
            # rita reads under her role's grant, so the role's key pseudonymises; it reaches the hand-written
            # query the way it reaches the gate's, in a one-row table rather than in the SQL text
            inner, outer = grantee_key(secret, probe.composition.grantee).padded()
            wh.raw.execute("CREATE OR REPLACE TEMP TABLE jl_bench_key AS SELECT CAST(? AS BLOB) AS inner, "
                           "CAST(? AS BLOB) AS outer", [bytes.fromhex(inner), bytes.fromhex(outer)])
            sql = same_output_sql()
            runs = race([
                ("plain select of the same columns", lambda: table.select(*columns).to_pyarrow(), None),
                ("same output by hand (DuckDB SQL)", lambda: wh.raw.execute(sql).to_arrow_table(), None),
                ("gate, pseudonym cache off", lambda: gated(False).table, None),
                ("gate, first read (hashes in query)", lambda: gated().table, cache.clear),
                ("gate, second read (fills cache)", lambda: gated().table, lambda: (cache.clear(), gated())),
                ("gate, later reads (cache warm)", lambda: gated().table, None)], args.repeat)
            by_hand = runs[1][1]
            assert list(by_hand.column_names) == columns, by_hand.column_names
            assert runs[0][1].num_rows == args.rows
            for _, result, _, _ in runs[2:]:
                assert same_rows(wh, by_hand, result), "the hand-written query and the gate disagree"
        print(f"\n(a) read of {args.rows:,} rows at deidentified, {len(columns)} columns "
              f"({', '.join(columns)}), best and median of {args.repeat} interleaved rounds")
        plain_best, hand_best = runs[0][2], runs[1][2]
        for name, _, best, median in runs:
            print(f"    {name:<38}: best {best:.3f} s, median {median:.3f} s")
        print("    ratios of best times (target: the gate at most 1.5x the same output by hand)")
        for name, _, best, _ in runs[2:]:
            print(f"    {name.removeprefix('gate, '):<32}: {best / hand_best:.2f}x by hand, "
                  f"{best / plain_best:.2f}x plain")

        with db.session() as s:
            rita = get_user(s, "rita")  # the acting user, resolved once per request as every surface does

            def composed() -> Any:
                return compose(s, rita, "citation", "research", standard=STANDARD)

            c, compose_best, compose_median = timed(composed, args.repeat * 20)
            check, check_best, _ = timed(lambda: valid_grants(s, rita, "citation", "research", standard=STANDARD),
                                         args.repeat * 20)
            _, by_name, by_name_median = timed(
                lambda: compose(s, "rita", "citation", "research", standard=STANDARD), args.repeat * 20)
        assert c.readable and c.parts[0].access("sex").level is Level.deidentified
        naive, naive_best, naive_median = timed(lambda: naive_check(db, "rita", "citation", "research"), args.repeat)
        assert naive == [g.id for g in check.applicable]
        print(f"\n(b) permission check for one user among {args.grants:,} grants")
        print(f"    naive (load every grant, test in Python): best {naive_best * 1000:.1f} ms, "
              f"median {naive_median * 1000:.1f} ms")
        print(f"    valid_grants (one indexed query)        : best {check_best * 1000:.3f} ms")
        print(f"    compose (valid_grants + composition)    : best {compose_best * 1000:.3f} ms, "
              f"median {compose_median * 1000:.3f} ms (target < 1 ms)")
        print(f"    compose, looking the user up by name too: best {by_name * 1000:.3f} ms, "
              f"median {by_name_median * 1000:.3f} ms (target < 1 ms)")
        print(f"    ratio naive / compose                   : {naive_best / compose_best:.0f}x")
        db.close()


if __name__ == "__main__":
    main()
