"""The records the person index links: every person-bearing row of the warehouse, standardised once.

Every entity that includes the standard's ``person`` group contributes its rows. Standardisation runs in
DuckDB (the engine Splink runs on): upper case without accents or punctuation, surnames also as their
parts (GARCIA-LOPEZ -> [GARCIA, LOPEZ]) and squashed (GARCIALOPEZ), given names with every standard
form they may be a variant of (BOB -> [BOB, ROBERT]), dates of birth also as text for edit distances,
house-number-and-street addresses without the unit, no-fixed-address markers as missing.
"""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa

from justicelab.linkage.bloom import bit_sql
from justicelab.linkage.store import PERSON_ENCODINGS
from justicelab.standard import Standard, load_standard
from justicelab.standard.models import FieldType, ResolvedEntity
from justicelab.standard.reference import given_name_variants
from justicelab.warehouse import Warehouse

#: The person fields the linkage reads from each entity table (absent ones are read as null).
PERSON_FIELDS = ("source_person_id", "first_name", "middle_name", "last_name", "date_of_birth", "sex",
                 "race_ethnicity", "address", "zip")

#: What a no-fixed-address record carries instead of an address.
NO_ADDRESS = ("HOMELESS", "TRANSIENT", "NO FIXED ADDRESS", "NFA", "UNKNOWN", "NONE", "UNHOUSED",
              "NO ADDRESS", "REFUSED")


def person_entities(warehouse: Warehouse, standard: Standard | None = None) -> list[str]:
    """Entity tables that carry the person group and exist in the warehouse, in a stable order."""
    standard = standard or load_standard()
    tables = set(warehouse.ibis.list_tables())
    return sorted(name for name, e in standard.entities.items() if "person" in e.includes and name in tables)


def event_date_field(entity: ResolvedEntity) -> str | None:
    """The field saying when the record's event happened: the entity's first date or timestamp other
    than the date of birth (booking_datetime, citation_date, arrival_datetime, ...)."""
    for f in entity.fields:
        if f.type in (FieldType.date, FieldType.timestamp) and f.name != "date_of_birth":
            return f.name
    return None


#: Keyed Bloom-filter encodings a department uploaded instead of (or beside) cleartext identifiers
#: (base64 text, see :mod:`justicelab.linkage.encoding`), and its keyed pseudonym of its own person id.
ENCODED_FIELDS = ("name_bf", "dob_bf", "address_bf", "person_key")


def gather(warehouse: Warehouse, standard: Standard | None = None, *, ordered: bool = True) -> pa.Table:
    """One Arrow table of every person-bearing record: ``unique_id`` (the record id), source, entity,
    the raw person fields, the age recorded and the event's date (a record without a date of birth often
    has an age). Runs through Ibis, so it reads DuckDB and PostgreSQL warehouses alike. ``ordered``: by
    record id (training samples rows, so a run that trains needs it)."""
    standard = standard or load_standard()
    parts: list[ibis.Table] = []
    for entity in person_entities(warehouse, standard):
        t = warehouse.ibis.table(entity)
        cols: dict[str, Any] = {
            "unique_id": t["_record_id"], "source": t["_source"], "entity": ibis.literal(entity),
        }
        for f in PERSON_FIELDS:
            kind = "date" if f == "date_of_birth" else "string"
            cols[f] = t[f].cast(kind) if f in t.columns else ibis.null(kind)
        when = event_date_field(standard.entities[entity])
        cols["age"] = t["age"].cast("int64") if "age" in t.columns else ibis.null("int64")
        cols["event_date"] = t[when].cast("date") if when and when in t.columns else ibis.null("date")
        parts.append(t.select(**cols))
    if not parts:
        fields = [(c, pa.string()) for c in ("unique_id", "source", "entity", *PERSON_FIELDS)]
        schema = [(c, pa.date32() if c == "date_of_birth" else t) for c, t in fields]
        return pa.schema([*schema, ("age", pa.int64()), ("event_date", pa.date32()),
                          *((f, pa.string()) for f in ENCODED_FIELDS)]).empty_table()
    union = parts[0] if len(parts) == 1 else ibis.union(*parts)
    if warehouse.has_table(PERSON_ENCODINGS):
        enc = warehouse.ibis.table(PERSON_ENCODINGS).select("record_id", *ENCODED_FIELDS)
        union = union.left_join(enc, union.unique_id == enc.record_id).select(
            *union.columns, *ENCODED_FIELDS)
    else:
        union = union.mutate(**{f: ibis.null("string") for f in ENCODED_FIELDS})
    # A fixed order: training samples rows, and the same data must give the same index on any warehouse.
    return (union.order_by("unique_id") if ordered else union).to_pyarrow()


def load_standardised(con: Any, warehouse: Warehouse, out_table: str, *, ordered: bool = True) -> None:
    """Gather the warehouse's person-bearing records into ``out_table`` of the DuckDB connection, standardised."""
    con.register("jl_raw", gather(warehouse, ordered=ordered))
    try:
        standardise(con, "jl_raw", out_table)
    finally:
        con.unregister("jl_raw")


def _clean(expr: str) -> str:
    """Upper case, accents folded, anything but letters, spaces and hyphens dropped, spaces squeezed."""
    return (f"nullif(trim(regexp_replace(regexp_replace(upper(strip_accents(coalesce({expr}, ''))), "
            f"'[^A-Z -]', '', 'g'), '\\s+', ' ', 'g')), '')")


def standardise(con: Any, raw_table: str, out_table: str) -> None:
    """Create ``out_table`` in the DuckDB connection ``con`` from ``raw_table`` (the :func:`gather` shape).

    Records with no usable identifiers (none of a surname with a given name or date of birth, a given name
    with a date of birth, or the source's own person id) get ``linkable = false``: they are kept and
    reported, never linked.
    """
    pairs = given_name_variants()
    con.execute("CREATE OR REPLACE TEMP TABLE jl_name_variants (name VARCHAR, variant VARCHAR)")
    if pairs:
        con.executemany("INSERT INTO jl_name_variants VALUES (?, ?)", [list(p) for p in pairs])
    no_address = ", ".join(f"'{a}'" for a in NO_ADDRESS)
    # a missing value must not read like an empty one, or two different records could share a fingerprint
    fingerprint = ", ".join(f"coalesce(CAST(c.{col} AS VARCHAR), '\\N')" for col in (
        "spid", "first_name", "middle_name", "last_name", "dob", "age_birth_year", "sex", "race", "address_raw", "zip",
        *ENCODED_FIELDS))
    # optional inputs: a table from elsewhere (a benchmark's, a department's own extract) may lack them
    present = {r[0] for r in con.execute(f"DESCRIBE {raw_table}").fetchall()}
    encoded = ", ".join(f"{f if f in present else 'NULL::VARCHAR'} AS {f}" for f in ENCODED_FIELDS)
    age = "age" if "age" in present else "NULL::BIGINT"
    event_date = "event_date" if "event_date" in present else "NULL::DATE"
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW jl_clean AS
        SELECT unique_id, source, entity,
               nullif(trim(upper(source_person_id)), '') AS spid,
               {_clean('first_name')} AS first_name,
               {_clean('middle_name')} AS middle_name,
               {_clean('last_name')} AS last_name,
               date_of_birth AS dob,
               -- the birth year an age at the event implies (one of two years, by whether the birthday had passed)
               CASE WHEN date_of_birth IS NULL AND {age} BETWEEN 0 AND 120 AND {event_date} IS NOT NULL
                    THEN year({event_date}) - {age} END AS age_birth_year,
               CASE WHEN upper(sex) IN ('M', 'F', 'X') THEN upper(sex) END AS sex,
               CASE WHEN lower(race_ethnicity) NOT IN ('unknown', 'other_unknown', '') THEN lower(race_ethnicity)
                    END AS race,
               nullif(trim(regexp_replace(regexp_replace(upper(coalesce(address, '')),
                      '\\s+(APT|UNIT|STE|SUITE|#|SPC|RM)\\b.*$', ''), '\\s+', ' ', 'g')), '') AS address_raw,
               CASE WHEN regexp_full_match(trim(coalesce(zip, '')), '[0-9]{{5}}') THEN trim(zip) END AS zip,
               {encoded}
        FROM {raw_table}
    """)
    con.execute(f"""
        CREATE OR REPLACE TABLE {out_table} AS
        WITH variants AS (
            -- every standard form a given name may stand for, itself included
            SELECT variant AS name, list(DISTINCT name ORDER BY name) AS forms FROM jl_name_variants GROUP BY variant
        )
        SELECT c.unique_id, c.source, c.entity,
               -- an encoded source's pseudonym of its person id serves the same purpose as the id itself
               CASE WHEN c.spid IS NOT NULL THEN c.source || ':' || c.spid
                    WHEN c.person_key IS NOT NULL THEN c.source || ':#' || c.person_key END AS source_person_id,
               c.first_name,
               split_part(c.first_name, ' ', 1) AS first_token,
               list_distinct(list_append(coalesce(v.forms, []), split_part(c.first_name, ' ', 1))) AS first_forms,
               -- one standard form to block on: BILLY and WILLIAM both give WILLIAM
               coalesce(v.forms[1], split_part(c.first_name, ' ', 1)) AS first_key,
               c.middle_name,
               c.last_name,
               replace(replace(c.last_name, ' ', ''), '-', '') AS last_squashed,
               list_filter(string_split_regex(c.last_name, '[ -]+'), x -> length(x) > 1) AS last_parts,
               c.dob,
               strftime(c.dob, '%Y-%m-%d') AS dob_text,
               year(c.dob) AS birth_year,
               coalesce(year(c.dob), c.age_birth_year - 1) AS birth_year_low,
               coalesce(year(c.dob), c.age_birth_year) AS birth_year_high,
               c.sex, c.race,
               CASE WHEN c.address_raw NOT IN ({no_address}) THEN c.address_raw END AS address,
               c.zip,
               {bit_sql('c.name_bf')} AS name_bf, {bit_sql('c.dob_bf')} AS dob_bf,
               {bit_sql('c.address_bf')} AS address_bf,
               (c.spid IS NOT NULL OR c.person_key IS NOT NULL OR c.name_bf IS NOT NULL
                OR (c.last_name IS NOT NULL AND (c.first_name IS NOT NULL OR c.dob IS NOT NULL))
                OR (c.first_name IS NOT NULL AND c.dob IS NOT NULL)) AS linkable,
               -- what the model sees of the record: an incremental run rescores records whose fingerprint changed
               md5(concat_ws('|', {fingerprint})) AS fingerprint
        FROM jl_clean c
        LEFT JOIN variants v ON v.name = split_part(c.first_name, ' ', 1)
    """)
    con.execute("DROP VIEW jl_clean")
