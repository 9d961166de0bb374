"""Data-quality feedback to reporting agencies, from the agency × year Crimes & Clearances table.

"Bad data = bad policy": before a figure is published, each reporting agency should learn what in its
reports looks wrong. Every finding names the agency, its county, the year, the rule and the values.
The rules read the offence hierarchy from the standard's code list (one definition), and run as Ibis
expressions, so they work on DuckDB and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from justicelab.standard import Standard, load_standard
from justicelab.warehouse import Warehouse

RULES = {
    "missing_year": "no report for a year between two years with reports",
    "zero_after_nonzero": "reported no offences at all after a year with offences",
    "clearances_exceed_offenses": "more clearances than offences for one offence in one year",
    "negative_count": "a negative count (offences net of unfounded reports from an earlier year)",
    "components_not_summing": "the parts of an offence do not add up to its total",
    "implausible_jump": "an offence total changed implausibly from the year before",
    "unmatched_agency": "the agency is not in the agency directory",
}
COLUMNS = ["agency", "county", "year", "rule", "offense", "value", "expected", "message"]


@dataclass(frozen=True)
class Thresholds:
    jump_ratio: float = 2.0  # a total at least doubling or halving ...
    jump_minimum: int = 50  # ... by at least this many offences


def _finding(t: ir.Table, rule: str, offense: ir.Value | None, value: ir.Value, expected: ir.Value) -> ir.Table:
    return t.select(
        agency=t.agency_code, county=t.county, year=t.year, rule=ibis.literal(rule),
        offense=(offense if offense is not None else ibis.null()).cast("string"),
        value=value.cast("float64"), expected=expected.cast("float64"),
        message=ibis.literal(RULES[rule]),
    )


def _hierarchy(standard: Standard) -> ir.Table:
    rows = [
        {"offense": c.code, "parent": c.attributes["parent"], "breakdown": c.attributes.get("breakdown", "")}
        for c in standard.codelist("crime_clearance_offense").codes
        if c.attributes.get("parent")
    ]
    return ibis.memtable(pa.Table.from_pylist(rows))


def findings(warehouse: Warehouse, *, year: int | None = None, agency: str | None = None,
             thresholds: Thresholds = Thresholds(), standard: Standard | None = None) -> ir.Table:
    """Every finding as one Ibis expression (agency, county, year, rule, offense, value, expected, message)."""
    standard = standard or load_standard()
    con = warehouse.ibis
    cc = con.table("crime_clearance")
    top = cc.filter(cc.offense.isin(["violent", "property"]))
    totals = top.group_by(["agency_code", "county", "year"]).aggregate(total=top.offenses.sum())
    w = ibis.window(group_by="agency_code", order_by="year")
    seq = totals.mutate(prev_year=totals.year.lag().over(w), prev_total=totals.total.lag().over(w))
    parts = [
        _finding(seq.filter(seq.year - seq.prev_year > 1), "missing_year", None,
                 seq.year - seq.prev_year - 1, ibis.literal(0)),
        _finding(seq.filter((seq.total == 0) & (seq.prev_total > 0) & (seq.prev_year == seq.year - 1)),
                 "zero_after_nonzero", None, seq.total, seq.prev_total),
    ]
    over = cc.filter(cc.clearances > cc.offenses)
    parts.append(_finding(over, "clearances_exceed_offenses", over.offense, over.clearances, over.offenses))
    negative = cc.filter((cc.offenses < 0) | (cc.clearances < 0))
    parts.append(_finding(negative, "negative_count", negative.offense,
                          ibis.least(negative.offenses.fill_null(0), negative.clearances.fill_null(0)),
                          ibis.literal(0)))

    h = _hierarchy(standard)
    children = cc.inner_join(h, "offense")
    sums = children.group_by(["agency_code", "county", "year", "parent", "breakdown"]).aggregate(
        parts_sum=children.offenses.sum(), filled=children.offenses.count())
    parents = cc.select(agency_code="agency_code", year="year", parent="offense", parent_total="offenses")
    cmp = sums.inner_join(parents, ["agency_code", "year", "parent"])
    bad = cmp.filter((cmp.filled > 0) & cmp.parent_total.notnull() & (cmp.parts_sum != cmp.parent_total))
    parts.append(_finding(bad, "components_not_summing", bad.parent + " by " + bad.breakdown, bad.parts_sum,
                          bad.parent_total))

    by_offense = top.mutate(prev=top.offenses.lag().over(ibis.window(group_by=["agency_code", "offense"],
                                                                     order_by="year")),
                            prev_year=top.year.lag().over(ibis.window(group_by=["agency_code", "offense"],
                                                                      order_by="year")))
    grow = by_offense.offenses >= by_offense.prev * thresholds.jump_ratio
    shrink = by_offense.offenses * thresholds.jump_ratio <= by_offense.prev
    big = (by_offense.offenses - by_offense.prev).abs() >= thresholds.jump_minimum
    jumps = by_offense.filter((by_offense.prev_year == by_offense.year - 1) & (grow | shrink) & big)
    parts.append(_finding(jumps, "implausible_jump", jumps.offense, jumps.offenses, jumps.prev))

    if "agency" in con.list_tables():
        directory = con.table("agency").select("agency_code")
        unknown = totals.anti_join(directory, "agency_code")
        parts.append(_finding(unknown, "unmatched_agency", None, unknown.total, ibis.literal(None)))

    out = ibis.union(*parts)
    if year is not None:
        out = out.filter(out.year == year)
    if agency is not None:
        out = out.filter(out.agency == agency)
    return out.order_by(["county", "agency", "year", "rule", "offense"])


def summary_by_agency(report: pa.Table) -> pa.Table:
    """Findings per agency and rule: what each reporting agency should fix first."""
    con = ibis.memtable(report)
    return con.group_by(["agency", "county", "rule"]).aggregate(findings=con.count()).order_by(
        [ibis.desc("findings"), "agency"]).to_pyarrow()
