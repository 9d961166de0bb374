"""Aggregate synthetic crimes into the exact layout of DOJ's Crimes and Clearances file, in DuckDB SQL.

Counting follows DOJ's file: a crime counts in the year it was reported, a clearance in the year it
was made (so a year's clearances can include crimes reported earlier). Every agency has a row for
every year, zeros included. The larceny value bands follow DOJ's 2021 change: "over $400" and
"$200 to $400" up to 2020, "$200 and over" from 2021, the unused bands left empty.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from justicelab.synth import state_tables as T

_O = T.OFFENSE_INDEX

# Offence counts: column -> condition over the compact incident table (counted by report year).
_TOTALS = {
    "Homicide_sum": _O["homicide"], "ForRape_sum": _O["rape"], "Robbery_sum": _O["robbery"],
    "AggAssault_sum": _O["aggravated_assault"], "Burglary_sum": _O["burglary"],
    "VehicleTheft_sum": _O["motor_vehicle_theft"], "LTtotal_sum": _O["larceny_theft"],
    "GrandTotal_sum": _O["arson"],
}
_CLEARANCES = {
    "HomicideClr_sum": "Homicide_sum", "ForRapeClr_sum": "ForRape_sum", "RobberyClr_sum": "Robbery_sum",
    "AggAssaultClr_sum": "AggAssault_sum", "BurglaryClr_sum": "Burglary_sum",
    "VehicleTheftClr_sum": "VehicleTheft_sum", "LTtotalClr_sum": "LTtotal_sum", "GrandTotClr_sum": "GrandTotal_sum",
}


def _loc(codes: tuple[str, ...]) -> str:
    return ", ".join(str(T.LOC_CODES.index(c)) for c in codes)


def _breakdowns() -> dict[str, str]:
    rob, agg, burg = _O["robbery"], _O["aggravated_assault"], _O["burglary"]
    mvt, larc, arson = _O["motor_vehicle_theft"], _O["larceny_theft"], _O["arson"]
    res = T.LOC_CODES.index("20")
    conds: dict[str, str] = {
        "TotalStructural_sum": f"off = {arson} AND aprop = 0",
        "TotalMobile_sum": f"off = {arson} AND aprop = 1",
        "TotalOther_sum": f"off = {arson} AND aprop = 2",
        "RAPact_sum": f"off = {_O['rape']} AND NOT att",
        "ARAPact_sum": f"off = {_O['rape']} AND att",
    }
    for col, w in zip(("FROBact_sum", "KROBact_sum", "OROBact_sum", "SROBact_sum"), range(4), strict=True):
        conds[col] = f"off = {rob} AND weapon = {w}"
    grouped: list[str] = []
    for col, codes in T.ROBBERY_LOCATION_GROUPS.items():
        conds[col] = f"off = {rob} AND loc IN ({_loc(codes)})"
        grouped.extend(codes)
    conds["MROBnao_sum"] = f"off = {rob} AND loc NOT IN ({_loc(tuple(grouped))})"
    for col, w in zip(("FASSact_sum", "KASSact_sum", "OASSact_sum", "HASSact_sum"), range(4), strict=True):
        conds[col] = f"off = {agg} AND weapon = {w}"
    force, noforce, attforce = (T.ENTRIES.index(e) for e in ("FORCE", "NOFORCE", "ATTFORCE"))
    conds["FEBURact_Sum"] = f"off = {burg} AND entry IN ({force}, {attforce})"
    conds["UBURact_sum"] = f"off = {burg} AND entry = {noforce}"
    for prefix, total, where in (("R", "RESDBUR_sum", f"loc = {res}"), ("N", "NRESBUR_sum", f"loc <> {res}")):
        conds[total] = f"off = {burg} AND {where}"
        conds[f"{prefix}NBURnao_sum"] = f"off = {burg} AND {where} AND night = 1"
        conds[f"{prefix}DBURnao_sum"] = f"off = {burg} AND {where} AND night = 0"
        conds[f"{prefix}UBURnao_sum"] = f"off = {burg} AND {where} AND night = -1"
    for col, v in zip(("MVTact_sum", "TMVTact_sum", "OMVTact_sum"), range(3), strict=True):
        conds[col] = f"off = {mvt} AND veh = {v}"
    for i, lt in enumerate(T.LARCENY_TYPES):
        conds[lt[1]] = f"off = {larc} AND larc = {i}"
    conds["LT400nao_sum"] = f"off = {larc} AND value > 400"
    conds["LT200400nao_sum"] = f"off = {larc} AND value BETWEEN 200 AND 400"
    conds["LT200nao_sum"] = f"off = {larc} AND value >= 200"
    conds["LT50200nao_sum"] = f"off = {larc} AND value BETWEEN 50 AND 199"
    conds["LT50nao_sum"] = f"off = {larc} AND value < 50"
    return conds


BREAKDOWNS = _breakdowns()

# Columns whose split uses a source column that is not a field of the standard crime_incident
# (so a dataset loaded into the standard cannot rebuild them), with that source column.
SYNTHETIC_ONLY: dict[str, str] = {
    **{c: "ARSON_PROP" for c in ("TotalStructural_sum", "TotalMobile_sum", "TotalOther_sum")},
    **{c: "ATT_COMP" for c in ("RAPact_sum", "ARAPact_sum")},
    **{c: "WEAPON" for c in ("FROBact_sum", "KROBact_sum", "OROBact_sum", "SROBact_sum", "FASSact_sum",
                             "KASSact_sum", "OASSact_sum", "HASSact_sum")},
    **{c: "ENTRY" for c in ("FEBURact_Sum", "UBURact_sum")},
    **{c: "OCC_TIME" for c in ("RNBURnao_sum", "RDBURnao_sum", "RUBURnao_sum", "NNBURnao_sum",
                               "NDBURnao_sum", "NUBURnao_sum")},
    **{c: "VEH_TYPE" for c in ("MVTact_sum", "TMVTact_sum", "OMVTact_sum")},
    **{lt[1]: "LARC_TYPE" for lt in T.LARCENY_TYPES},
    **{c: "PROP_VALUE" for c in ("LT400nao_sum", "LT200400nao_sum", "LT200nao_sum", "LT50200nao_sum",
                                 "LT50nao_sum")},
}
# Columns split by a standard field (location_type): rebuildable from the standard table.
FROM_LOCATION_TYPE = (*T.ROBBERY_LOCATION_GROUPS, "MROBnao_sum", "RESDBUR_sum", "NRESBUR_sum")


def crimes_and_clearances_sql(change_year: int = T.LARCENY_VALUE_BANDS_CHANGE) -> str:
    """SQL over ``inc`` (compact incidents), ``ag`` (agencies) and ``yrs`` (years) giving the C&C rows."""
    off_counts = [f"count(*) FILTER (WHERE off = {o}) AS {c}" for c, o in _TOTALS.items()]
    off_counts += [f"count(*) FILTER (WHERE {cond}) AS {c}" for c, cond in BREAKDOWNS.items()]
    clr_counts = [f"count(*) FILTER (WHERE off = {_TOTALS[total]}) AS {c}" for c, total in _CLEARANCES.items()]

    def col(name: str) -> str:
        source = "c" if name in _CLEARANCES else "o"
        return f"coalesce({source}.{name}, 0)"

    exprs: dict[str, str] = {
        "Year": "g.year", "County": "g.county_label", "NCICCode": "g.agency_code",
        "Violent_sum": " + ".join(col(c) for c in ("Homicide_sum", "ForRape_sum", "Robbery_sum", "AggAssault_sum")),
        "Property_sum": " + ".join(col(c) for c in ("Burglary_sum", "VehicleTheft_sum", "LTtotal_sum")),
        "ViolentClr_sum": " + ".join(col(c) for c in ("HomicideClr_sum", "ForRapeClr_sum", "RobberyClr_sum",
                                                       "AggAssaultClr_sum")),
        "PropertyClr_sum": " + ".join(col(c) for c in ("BurglaryClr_sum", "VehicleTheftClr_sum",
                                                        "LTtotalClr_sum")),
    }
    for name in T.CC_COLUMNS:
        if name not in exprs:
            exprs[name] = col(name)
    exprs["LT400nao_sum"] = f"CASE WHEN g.year < {change_year} THEN {col('LT400nao_sum')} END"
    exprs["LT200400nao_sum"] = f"CASE WHEN g.year < {change_year} THEN {col('LT200400nao_sum')} END"
    exprs["LT200nao_sum"] = f"CASE WHEN g.year >= {change_year} THEN {col('LT200nao_sum')} END"
    select = ",\n  ".join(f'{exprs[name]} AS "{name}"' for name in T.CC_COLUMNS)
    return f"""
WITH o AS (
  SELECT agency, ryear AS year, {", ".join(off_counts)}
  FROM inc GROUP BY agency, ryear),
c AS (
  SELECT agency, cyear AS year, {", ".join(clr_counts)}
  FROM inc WHERE cyear IS NOT NULL GROUP BY agency, cyear),
g AS (SELECT ag.agency, yrs.year, ag.county_label, ag.agency_code FROM ag CROSS JOIN yrs)
SELECT
  {select}
FROM g
LEFT JOIN o ON o.agency = g.agency AND o.year = g.year
LEFT JOIN c ON c.agency = g.agency AND c.year = g.year
ORDER BY g.year, g.county_label, g.agency_code
"""


def write_crimes_and_clearances(path: Path, inc: pa.Table, agency_codes: list[str], county_labels: list[str],
                                years: list[int]) -> int:
    """Aggregate the compact incidents with DuckDB and write the C&C-layout CSV; return its row count."""
    con = duckdb.connect()
    try:
        con.register("inc", inc)
        con.register("ag", pa.table({"agency": list(range(len(agency_codes))), "agency_code": agency_codes,
                                     "county_label": county_labels}))
        con.register("yrs", pa.table({"year": years}))
        sql = crimes_and_clearances_sql()
        target = path.as_posix().replace("'", "''")
        con.execute(f"COPY ({sql}) TO '{target}' (HEADER, DELIMITER ',')")
        return len(agency_codes) * len(years)
    finally:
        con.close()
