"""The baseline for bench/indicators.py: the same indicator definitions computed in plain pandas.

It reads the same standard tables (as Parquet files exported from the warehouse) and applies the same
rules as the engine: includes/excludes, dimensions, summed numerators over summed denominators, one
population vintage per geography and year, zero-event groups from the denominator's frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from justicelab.indicators import band_labels
from justicelab.standard.indicators import Dimension, Indicator, Measure

DEMOGRAPHICS = ("sex", "race_ethnicity", "age_group")


def _dim(df: pd.DataFrame, dim: Dimension) -> pd.Series:
    if dim.column:
        return df[dim.column]
    if dim.year_of:
        return pd.to_datetime(df[dim.year_of]).dt.year
    edges = [*dim.edges, np.inf]  # type: ignore[list-item]
    return pd.cut(df[dim.bands_of], edges, right=False, labels=band_labels(dim.edges or [])).astype(object)


def _measure(df: pd.DataFrame, m: Measure, ind: Indicator, by: Sequence[str],
             where: Mapping[str, Sequence[Any]], name: str) -> pd.DataFrame:
    for col, values in m.include.items():
        df = df[df[col].isin(values)]
    for col, values in m.exclude.items():
        df = df[~df[col].isin(values) | df[col].isna()]
    mapping = m.dimensions if m.dimensions is not None else ind.dimensions
    df = df.assign(**{d: _dim(df, mapping[d]) for d in {*by, *where}})
    for d, values in where.items():
        df = df[df[d].isin(values)]
    if m.aggregate == "sum":
        return df.groupby(list(by), dropna=False)[m.column].sum().rename(name).reset_index()
    return df.groupby(list(by), dropna=False).size().rename(name).reset_index()


def _population(pop: pd.DataFrame, ind: Indicator, by: Sequence[str],
                where: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    wanted = {*by, *where}
    demo = [ind.dimensions[d].population for d in wanted if ind.dimensions[d].population in DEMOGRAPHICS]
    levels = pop[list(DEMOGRAPHICS)].notna().drop_duplicates()
    fits = [lv for _, lv in levels.iterrows() if all(lv[c] for c in demo)]
    level = min(fits, key=lambda lv: int(lv.sum())) if demo else pd.Series({c: False for c in DEMOGRAPHICS})
    p = pop
    for c in DEMOGRAPHICS:
        p = p[p[c].notna()] if level[c] else p[p[c].isna()]
    p = p[p.geography_type == ("county" if "county" in wanted else "state")]
    p = p.assign(_est=(p.estimate_type == "estimate").astype(int))
    best = p.sort_values(["_est", "vintage", "reference_date"], ascending=False).drop_duplicates(
        ["geography_type", "geography_code", "year"])[["geography_type", "geography_code", "year", "_est",
                                                        "vintage", "reference_date"]]
    p = p.merge(best, on=list(best.columns))
    for d in wanted:
        dim = ind.dimensions[d]
        if dim.population == "age_group" and dim.edges:
            lower = p.age_group.str.extract(r"^(\d+)")[0].astype(int)
            p[d] = pd.cut(lower, [*dim.edges, np.inf], right=False, labels=band_labels(dim.edges)).astype(object)
        else:
            p[d] = p[dim.population]
    for d, values in where.items():
        p = p[p[d].isin(values)]
    agg = p.groupby(list(by), dropna=False).agg(denominator=("population", "sum"), vintage=("vintage", "max"))
    return agg.reset_index()


def compute_pandas(tables: Mapping[str, pd.DataFrame], ind: Indicator, by: Sequence[str],
                   where: Mapping[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    where = where or {}
    if ind.numerator.table == "population":
        out = _population(tables["population"], ind, by, where).rename(columns={"denominator": "numerator"})
        return out.assign(value=out.numerator)
    num = _measure(tables[ind.numerator.table], ind.numerator, ind, by, where, "numerator")
    if ind.denominator is None:
        return num.assign(value=num.numerator)
    if ind.denominator.kind == "population":
        pop_by = [d for d in by if ind.dimensions[d].population]
        pop_where = {d: v for d, v in where.items() if ind.dimensions[d].population}
        den = _population(tables["population"], ind, pop_by, pop_where)
        if "year" in by:
            src = tables[ind.numerator.table]
            den = den[den.year.isin(set(_dim(src, ind.dimensions["year"]).unique()))]
    else:
        assert ind.denominator.measure is not None
        den = _measure(tables[ind.denominator.measure.table], ind.denominator.measure, ind, by, where, "denominator")
    shared = [d for d in by if d in den.columns]
    if shared and shared != list(by):
        out = num.merge(den, on=shared, how="left")
    else:
        out = den.merge(num, on=list(by), how="outer")
    out["numerator"] = out.numerator.fillna(0)
    out["value"] = np.where(out.denominator > 0, out.numerator / out.denominator * ind.scale, np.nan)
    return out


def load_tables(folder: Path, names: Sequence[str]) -> dict[str, pd.DataFrame]:
    return {n: pd.read_parquet(folder / f"{n}.parquet") for n in names if (folder / f"{n}.parquet").exists()}
