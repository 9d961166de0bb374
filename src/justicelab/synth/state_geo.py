"""Synthetic agencies and population for the state generator.

Agencies are spread over the 58 real California counties (read from the standard's county code
list) with one sheriff per county; every city police department and every sheriff polices a
population "leaf" (a city or the county's unincorporated balance) whose size follows the real
relative county sizes and a heavy-tailed split inside each county. Population is built at the leaf
level by age group, sex and race/ethnicity with integer cells, then added up to counties and the
state, so every part sums exactly to its total.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from justicelab.errors import SynthError
from justicelab.standard import load_standard
from justicelab.synth import state_tables as T


@dataclass(frozen=True)
class County:
    """One real county: standard code, label ("Alameda County"), bare name and DOJ's county number."""

    code: str
    label: str
    name: str
    number: int
    weight: float


def load_counties() -> list[County]:
    """The 58 counties from the standard's county code list, numbered alphabetically as DOJ does."""
    codes = load_standard().codelist("county").codes
    fallback = float(np.median(list(T.COUNTY_POPULATION_2020.values())))
    out = []
    for i, c in enumerate(sorted(codes, key=lambda c: c.code), start=1):
        name = c.label[: -len(" County")] if c.label.endswith(" County") else c.label
        out.append(County(c.code, c.label, name, i, float(T.COUNTY_POPULATION_2020.get(c.code, fallback))))
    return out


@dataclass
class Agencies:
    """The agency directory, column-wise (index i is agency i everywhere in the generator)."""

    code: list[str]  # agency_code: the agency as DOJ's Crimes and Clearances file names it
    ncic: list[str]  # six-digit NCIC-style number: county, agency, suffix
    ori: list[str]
    name: list[str]
    kind: list[str]  # standard agency_type code
    county: np.ndarray  # county index (0-based)
    leaf: np.ndarray  # population leaf index, -1 for agencies without a resident population

    def __len__(self) -> int:
        return len(self.code)


@dataclass
class Leaves:
    """Population leaves (cities and unincorporated balances) and their yearly totals."""

    kind: list[str]  # city or balance_of_county
    code: list[str]  # geography_code
    name: list[str]
    county: np.ndarray
    base: np.ndarray  # population at January 1 of the first year (float)
    growth: np.ndarray  # yearly growth rate


def _town_names(rng: np.random.Generator, n: int, avoid: set[str]) -> list[str]:
    pool = [p + s for p in T.TOWN_PREFIXES for s in T.TOWN_SUFFIXES]
    names: list[str] = []
    for qualifier in T.TOWN_QUALIFIERS:
        if len(names) >= n:
            break
        batch = [qualifier + p for p in rng.permutation(pool)]
        names.extend(b for b in batch if b.lower() not in avoid)
    if len(names) < n:
        raise SynthError(f"cannot name {n} towns; ask for fewer agencies")
    return names[:n]


def _pick_counties(rng: np.random.Generator, weights: np.ndarray, n: int, power: float,
                   replace: bool) -> np.ndarray:
    p = weights**power
    p = p / p.sum()
    return rng.choice(len(weights), size=n, replace=replace, p=p)


def build_agencies(rng: np.random.Generator, counties: list[County], n: int,
                   state_pop: float) -> tuple[Agencies, Leaves]:
    """Create ``n`` agencies (one sheriff per county first) and the population leaves they police."""
    nc = len(counties)
    if n < nc:
        raise SynthError(f"agencies must be at least {nc} (one sheriff per county), got {n}")
    weights = np.array([c.weight for c in counties])
    extra = n - nc
    counts = {kind: round(extra * share) for kind, share in T.TYPE_SHARES}
    for kind in ("highway_patrol", "transit", "park"):  # at most one per county
        counts[kind] = min(counts[kind], nc)
    counts["police"] = extra - sum(counts.values())

    kinds: list[str] = ["sheriff"] * nc
    county_idx: list[int] = list(range(nc))
    plan = [
        ("police", 0.8, True), ("highway_patrol", 0.5, False), ("university", 1.0, True),
        ("transit", 1.5, False), ("park", 1.0, False), ("school", 1.0, True), ("state", 0.6, True),
    ]
    for kind, power, replace in plan:
        k = counts[kind]
        if k:
            kinds.extend([kind] * k)
            county_idx.extend(_pick_counties(rng, weights, k, power, replace).tolist())
    towns_needed = sum(1 for k in kinds if k in ("police", "university", "school", "state"))
    towns = iter(_town_names(rng, towns_needed, {c.name.lower() for c in counties}))

    code, name, town_of = [], [], []
    uni_flip = 0
    for kind, ci in zip(kinds, county_idx, strict=True):
        cn = counties[ci].name
        town = next(towns) if kind in ("police", "university", "school", "state") else ""
        town_of.append(town)
        if kind == "sheriff":
            code.append(f"{cn} Co. Sheriff's Department")
            name.append(f"{cn} County Sheriff's Office")
        elif kind == "police":
            code.append(town)
            name.append(f"{town} Police Department")
        elif kind == "highway_patrol":
            code.append(f"CA Highway Patrol - {cn}")
            name.append(f"California Highway Patrol - {cn}")
        elif kind == "university":
            uni_flip += 1
            if uni_flip % 2:
                code.append(f"UC {town}")
                name.append(f"University of California {town} Police Department")
            else:
                code.append(f"CSU {town}")
                name.append(f"California State University {town} Police Department")
        elif kind == "transit":
            code.append(f"{cn} Transit")
            name.append(f"{cn} Transit District Police")
        elif kind == "park":
            code.append(f"{cn} Reg. Park Dist.")
            name.append(f"{cn} Regional Parks Police")
        elif kind == "school":
            code.append(f"{town} USD")
            name.append(f"{town} Unified School District Police")
        else:
            code.append(f"{town} State Hospital")
            name.append(f"{town} State Hospital Police")
    if len(set(code)) != len(code):  # pragma: no cover - names are unique by construction
        raise AssertionError("duplicate agency codes")

    # Population leaves: each county's balance (policed by its sheriff) and its cities.
    county_arr = np.array(county_idx)
    leaf = np.full(n, -1)
    l_kind: list[str] = []
    l_code: list[str] = []
    l_name: list[str] = []
    l_county: list[int] = []
    l_base: list[float] = []
    l_growth: list[float] = []
    county_pop = state_pop * weights / weights.sum()
    county_growth = rng.normal(0.004, 0.005, nc)
    for ci in range(nc):
        cities = [i for i in range(n) if kinds[i] == "police" and county_idx[i] == ci]
        if cities:
            bal = rng.uniform(0.3, 0.8) if len(cities) == 1 else rng.uniform(0.06, 0.45)
            w = rng.lognormal(0.0, 1.1, len(cities))
            shares = np.concatenate([[bal], (1 - bal) * w / w.sum()])
        else:
            shares = np.array([1.0])
        members = [ci, *cities]  # the sheriff of county ci is agency ci
        for j, (agency, share) in enumerate(zip(members, shares, strict=True)):
            leaf[agency] = len(l_kind)
            if j == 0:
                l_kind.append("balance_of_county")
                l_code.append(counties[ci].code)
                l_name.append(f"Balance of {counties[ci].label}")
            else:
                l_kind.append("city")
                l_code.append(town_of[agency].lower().replace(" ", "_"))
                l_name.append(town_of[agency])
            l_county.append(ci)
            l_base.append(county_pop[ci] * share)
            l_growth.append(county_growth[ci] + rng.normal(0.0, 0.006))

    # NCIC-style numbers: county number, agency number within the county (sheriff 00, then cities
    # from the largest down, then the rest), and a suffix that only grows past 99 agencies.
    order = sorted(range(n), key=lambda i: (county_idx[i], kinds[i] != "sheriff", kinds[i] != "police",
                                            -(l_base[leaf[i]] if leaf[i] >= 0 else 0.0), code[i]))
    seq_in_county: dict[int, int] = {}
    ncic = [""] * n
    ori = [""] * n
    for i in order:
        ci = county_idx[i]
        k = seq_in_county.get(ci, 0)
        seq_in_county[ci] = k + 1
        num = counties[ci].number
        ncic[i] = f"{num:02d}{k % 100:02d}{k // 100:02d}"
        ori[i] = f"CA{num:03d}{k % 100:02d}{k // 100:02d}"

    agencies = Agencies(code=code, ncic=ncic, ori=ori, name=name, kind=kinds, county=county_arr, leaf=leaf)
    leaves = Leaves(kind=l_kind, code=l_code, name=l_name, county=np.array(l_county),
                    base=np.array(l_base), growth=np.array(l_growth))
    return agencies, leaves


def agencies_table(agencies: Agencies, counties: list[County], leaves: Leaves) -> pa.Table:
    """The agency directory as the synthetic DOJ extract writes it (system-like column names).

    POP_GEO_TYPE and POP_GEO_CODE name the population.csv area an agency polices (a city or the
    county's unincorporated balance); they are empty for agencies without a resident population.
    """
    geo_type = [leaves.kind[i] if i >= 0 else None for i in agencies.leaf]
    geo_code = [leaves.code[i] if i >= 0 else None for i in agencies.leaf]
    return pa.table({
        "NCIC_CODE": agencies.ncic,
        "ORI": agencies.ori,
        "AGENCY": agencies.code,
        "AGENCY_NAME": agencies.name,
        "CNTY": [counties[c].code for c in agencies.county],
        "COUNTY_NAME": [counties[c].label for c in agencies.county],
        "AGENCY_TYPE": [T.AGENCY_TYPE_SOURCE[k] for k in agencies.kind],
        "POP_GEO_TYPE": pa.array(geo_type, pa.string()),
        "POP_GEO_CODE": pa.array(geo_code, pa.string()),
    })


def leaf_totals(leaves: Leaves, years: list[int], offset: float = 0.0) -> np.ndarray:
    """Integer population of each leaf at January 1 of each year (+ ``offset`` years), shape (L, Y)."""
    t = np.array(years, dtype=float) - years[0] + offset
    return np.rint(leaves.base[:, None] * (1.0 + leaves.growth[:, None]) ** t[None, :]).astype(np.int64)


def _largest_remainder(expected: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round each row of ``expected`` to integers that add up exactly to the row's total."""
    floor = np.floor(expected).astype(np.int64)
    short = totals - floor.sum(axis=1)
    order = np.argsort(-(expected - floor), axis=1, kind="stable")
    rank = np.empty_like(order)
    rows = np.arange(expected.shape[0])[:, None]
    rank[rows, order] = np.arange(expected.shape[1])[None, :]
    return floor + (rank < short[:, None])


def _cell_shares(rng: np.random.Generator, leaves: Leaves, counties: list[County],
                 t: np.ndarray) -> np.ndarray:
    """Share of each (race, age group, sex) cell for every leaf at every time point: (L, D, R*A*S)."""
    nl = len(leaves.kind)
    base = np.array(T.RACE_SHARES)
    small = np.array([counties[c].weight < 300_000 for c in range(len(counties))])
    rural_tilt = np.array([0.8, 1.5, 0.4, 0.6, 1.0, 3.0, 1.0])
    county_race = np.empty((len(counties), len(base)))
    for ci in range(len(counties)):
        mean = base * (rural_tilt if small[ci] else 1.0)
        county_race[ci] = rng.dirichlet(mean / mean.sum() * 40.0)
    leaf_race = np.empty((nl, len(base)))
    for li in range(nl):
        leaf_race[li] = rng.dirichlet(county_race[leaves.county[li]] * 60.0 + 0.01)
    drift = np.exp(np.array(T.RACE_DRIFT)[None, None, :] * t[None, :, None])  # (1, D, R)
    race = leaf_race[:, None, :] * drift
    race /= race.sum(axis=2, keepdims=True)
    ages = np.array(T.AGE_SHARES)
    young = np.array([lo < 30 for lo in T.AGE_GROUP_LOWER])
    old = np.array([lo >= 60 for lo in T.AGE_GROUP_LOWER])
    age = np.empty((len(T.POP_RACES), len(ages)))
    for ri, r in enumerate(T.POP_RACES):
        y_tilt, o_tilt = T.RACE_AGE_TILT[r]
        a = ages * np.where(young, y_tilt, 1.0) * np.where(old, o_tilt, 1.0)
        age[ri] = a / a.sum()
    male = np.array(T.MALE_SHARE_BY_AGE)
    sex = np.stack([male, 1 - male], axis=1)  # (A, S)
    cells = race[:, :, :, None, None] * age[None, None, :, :, None] * sex[None, None, None, :, :]
    return cells.reshape(nl, len(t), -1)


@dataclass
class PopulationResult:
    table: pa.Table
    leaf_jan1: np.ndarray  # (L, Y) leaf totals at January 1
    county_jan1: np.ndarray  # (C, Y)
    race_share: np.ndarray  # (C, R) share of each race in each county (first year, ages 10+)
    vintage: str
    previous_vintage: str | None
    census_years: list[int]


def build_population(rng: np.random.Generator, leaves: Leaves, counties: list[County],
                     years: list[int]) -> PopulationResult:
    """Population by geography, date, age group, sex and race/ethnicity, plus totals rows."""
    census_years = [y for y in years if y % 10 == 0]
    # Time points: January 1 of each year, and April 1 of each census year.
    points: list[tuple[int, dt.date, str, float]] = [(y, dt.date(y, 1, 1), "estimate", 0.0) for y in years]
    points += [(y, dt.date(y, 4, 1), "census", 0.25) for y in census_years]
    points.sort(key=lambda p: (p[1], p[2]))
    t = np.array([p[0] - years[0] + p[3] for p in points])
    totals = np.rint(leaves.base[:, None] * (1.0 + leaves.growth[:, None]) ** t[None, :]).astype(np.int64)
    shares = _cell_shares(rng, leaves, counties, t)
    nl, nd, nk = shares.shape
    cells = _largest_remainder(shares.reshape(nl * nd, nk) * totals.reshape(-1, 1), totals.reshape(-1))
    cells = cells.reshape(nl, nd, nk)

    nc = len(counties)
    county_cells = np.zeros((nc, nd, nk), dtype=np.int64)
    np.add.at(county_cells, leaves.county, cells)
    state_cells = county_cells.sum(axis=0, keepdims=True)

    vintage = str(years[-1] + 1)
    geo_type = ["state"] + ["county"] * nc + list(leaves.kind)
    geo_code = ["california"] + [c.code for c in counties] + list(leaves.code)
    geo_name = ["California"] + [c.label for c in counties] + list(leaves.name)
    geo_county: list[str | None] = [None] + [c.code for c in counties] + [counties[c].code for c in leaves.county]
    all_cells = np.concatenate([state_cells, county_cells, cells], axis=0)  # (G, D, K)
    # Order: state, then each county followed by its balance and its cities.
    order = [0]
    for ci in range(nc):
        order.append(1 + ci)
        members = [li for li in range(nl) if leaves.county[li] == ci]
        members.sort(key=lambda li: (leaves.kind[li] != "balance_of_county", leaves.name[li]))
        order.extend(1 + nc + li for li in members)

    races, age_groups, sexes = T.POP_RACES, T.AGE_GROUPS, T.POP_SEXES
    k_race = np.repeat(np.arange(len(races)), len(age_groups) * len(sexes))
    k_age = np.tile(np.repeat(np.arange(len(age_groups)), len(sexes)), len(races))
    k_sex = np.tile(np.arange(len(sexes)), len(races) * len(age_groups))
    # Rows per (geography, point): one totals row, then the cells ordered by age, sex, race.
    cell_order = np.lexsort((k_race, k_sex, k_age))
    per = 1 + nk
    g_idx = np.repeat(np.array(order), nd * per)
    d_idx = np.tile(np.repeat(np.arange(nd), per), len(order))
    k_idx = np.tile(np.concatenate([[-1], cell_order]), len(order) * nd)
    values = np.where(k_idx < 0, all_cells.sum(axis=2)[g_idx, d_idx],
                      all_cells[g_idx, d_idx, np.maximum(k_idx, 0)])
    detail = k_idx >= 0

    def pick(labels: tuple[str, ...], index: np.ndarray) -> pa.Array:
        arr = np.array(labels, dtype=object)[index]
        arr[~detail] = None
        return pa.array(arr, type=pa.string())

    ki = np.maximum(k_idx, 0)
    source = "synthetic DOF E-4"
    table = pa.table({
        "geography_type": pa.array(np.array(geo_type, dtype=object)[g_idx], type=pa.string()),
        "geography_code": pa.array(np.array(geo_code, dtype=object)[g_idx], type=pa.string()),
        "geography_name": pa.array(np.array(geo_name, dtype=object)[g_idx], type=pa.string()),
        "county": pa.array(np.array(geo_county, dtype=object)[g_idx], type=pa.string()),
        "year": pa.array(np.array([p[0] for p in points])[d_idx], type=pa.int32()),
        "reference_date": pa.array(np.array([p[1] for p in points], dtype=object)[d_idx], type=pa.date32()),
        "estimate_type": pa.array(np.array([p[2] for p in points], dtype=object)[d_idx], type=pa.string()),
        "age_group": pick(age_groups, k_age[ki]),
        "sex": pick(sexes, k_sex[ki]),
        "race_ethnicity": pick(races, k_race[ki]),
        "population": pa.array(values, type=pa.int64()),
        "vintage": pa.array([vintage] * len(values), type=pa.string()),
        "source": pa.array([source] * len(values), type=pa.string()),
    })

    # The previous edition of the estimates (before the last census benchmark in range): county and
    # state totals only, drifting away from the current edition the further from the prior census.
    previous = None
    jan_points = [i for i, p in enumerate(points) if p[2] == "estimate"]
    county_tot = county_cells.sum(axis=2)  # (C, D)
    if census_years and census_years[-1] > years[0]:
        bench = census_years[-1]
        previous = str(bench)
        err = rng.normal(0.0, 0.012, nc)
        rows: list[tuple[str, str, str, str | None, int, dt.date, int]] = []
        for i in jan_points:
            y, ref = points[i][0], points[i][1]
            if y > bench:
                continue
            vals = np.rint(county_tot[:, i] * (1.0 + err * (y - (bench - 10)) / 10.0)).astype(np.int64)
            rows.append(("state", "california", "California", None, y, ref, int(vals.sum())))
            rows.extend(("county", c.code, c.label, c.code, y, ref, int(v)) for c, v in zip(counties, vals,
                                                                                           strict=True))
        prev = pa.table({
            "geography_type": [r[0] for r in rows], "geography_code": [r[1] for r in rows],
            "geography_name": [r[2] for r in rows], "county": pa.array([r[3] for r in rows], pa.string()),
            "year": pa.array([r[4] for r in rows], pa.int32()), "reference_date": pa.array(
                [r[5] for r in rows], pa.date32()),
            "estimate_type": ["estimate"] * len(rows), "age_group": pa.nulls(len(rows), pa.string()),
            "sex": pa.nulls(len(rows), pa.string()), "race_ethnicity": pa.nulls(len(rows), pa.string()),
            "population": pa.array([r[6] for r in rows], pa.int64()), "vintage": [previous] * len(rows),
            "source": [source] * len(rows),
        })
        table = pa.concat_tables([table, prev.cast(table.schema)])

    # Race shares of residents aged 10 and over per county, first year: the arrest generator's base.
    first = jan_points[0]
    c5 = county_cells[:, first, :].reshape(nc, len(races), len(age_groups), len(sexes))
    adult = c5[:, :, 1:, :].sum(axis=(2, 3)).astype(float)
    race_share = (adult + 1e-9) / (adult + 1e-9).sum(axis=1, keepdims=True)
    jan = np.array(jan_points)
    return PopulationResult(
        table=table,
        leaf_jan1=totals[:, jan],
        county_jan1=county_tot[:, jan],
        race_share=race_share,
        vintage=vintage,
        previous_vintage=previous,
        census_years=census_years,
    )
