"""Synthetic reported crimes and arrests for the state generator, drawn column-wise with numpy.

The number of crimes per agency, report year and offence is one multinomial draw over all cells
(so the total is exactly what was asked for); each year's crimes are then drawn as whole columns
(dates with seasonality, reporting and clearance lags, location, weapon, value...). Arrests are the
people arrested for the crimes cleared by arrest plus arrests for other offences (drugs, alcohol,
warrants...), with age, sex and race drawn per offence and county. No Python loop runs per record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from justicelab.errors import SynthError
from justicelab.synth import state_tables as T
from justicelab.synth.state_geo import Agencies, County, PopulationResult

EPOCH = dt.date(1970, 1, 1)
N_OFF = len(T.OFFENSES)
_NIGHT_HOURS = np.array([18, 19, 20, 21, 22, 23, 0, 1, 2, 3, 4, 5])
_WRITE = pacsv.WriteOptions(quoting_style="none", quoting_header="none", batch_size=1 << 16)


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01 (the representation of Arrow's date32)."""
    return (d - EPOCH).days


def _vec(values: list[float] | tuple[float, ...]) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _cdf(p: np.ndarray | list[float] | tuple[float, ...]) -> np.ndarray:
    c = np.cumsum(np.asarray(p, dtype=float))
    c /= c[-1]
    c[-1] = 1.0
    return c


def _draw_grouped(rng: np.random.Generator, groups: np.ndarray, cdfs: list[np.ndarray]) -> np.ndarray:
    """One categorical draw per element, element i using the distribution ``cdfs[groups[i]]``."""
    u = rng.random(len(groups))
    out = np.zeros(len(groups), dtype=np.int16)
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(len(cdfs) + 1))
    for g in range(len(cdfs)):
        sel = order[bounds[g]:bounds[g + 1]]
        if len(sel):
            out[sel] = np.searchsorted(cdfs[g], u[sel], side="right")
    return out


def _seasonal_days(year: int) -> np.ndarray:
    """Cumulative distribution of a crime's day within ``year`` (monthly seasonality)."""
    start = dt.date(year, 1, 1)
    n = (dt.date(year + 1, 1, 1) - start).days
    months = np.array([(start + dt.timedelta(days=d)).month - 1 for d in range(n)])
    return _cdf(_vec(T.MONTH_WEIGHTS)[months])


def _loc_pmf(mix: dict[str, float]) -> np.ndarray:
    p = np.zeros(len(T.LOC_CODES))
    for code, w in mix.items():
        p[T.LOC_CODES.index(code)] = w
    return p


# Location distributions: rows 0-5 are the offences homicide..motor vehicle theft, then one row per
# larceny type, then one per arson property class.
_LOC_CDFS = (
    [_cdf(_loc_pmf(T.LOCATION_MIX[o])) for o in range(6)]
    + [_cdf(_loc_pmf(lt[4])) for lt in T.LARCENY_TYPES]
    + [_cdf(_loc_pmf(ap[2])) for ap in T.ARSON_PROPERTY]
)
RESIDENCE = T.LOC_CODES.index("20")


@dataclass
class CrimeModel:
    """Per-agency crime volume and clearance propensity, and the drawn counts."""

    years: list[int]
    exposure: np.ndarray  # (A, Y) relative crime volume
    counts: np.ndarray  # (A, Y, O) crimes per agency, report year and offence
    clear_logit: np.ndarray  # (A, O)
    end_day: int  # the extract date: last day of the last year


def build_crime_model(rng: np.random.Generator, agencies: Agencies, pop: PopulationResult,
                      years: list[int], n_incidents: int) -> CrimeModel:
    """Decide how many crimes of each offence each agency records each year (exactly n in all)."""
    n_ag, n_y = len(agencies), len(years)
    kinds = np.array(agencies.kind)
    has_leaf = agencies.leaf >= 0
    jur = np.zeros((n_ag, n_y))
    jur[has_leaf] = pop.leaf_jan1[agencies.leaf[has_leaf]]
    first = jur[:, 0]
    ref = float(np.median(first[first > 0])) if (first > 0).any() else 1.0
    rel = np.clip(np.maximum(first, 1.0) / ref, 0.02, 100.0)
    mult = rng.lognormal(0.0, 0.35, n_ag)
    exposure = np.zeros((n_ag, n_y))
    size = np.where(has_leaf, rel**0.08, 1.0) * np.where(kinds == "sheriff", 0.75, 1.0)
    exposure[has_leaf] = jur[has_leaf] * (mult * size)[has_leaf, None]
    for i in np.nonzero(~has_leaf)[0]:
        exposure[i] = pop.county_jan1[agencies.county[i]] * T.TYPE_EXPOSURE[kinds[i]] * mult[i]

    base = _vec([o.share for o in T.OFFENSES])
    tilt = np.array([T.TYPE_MIX_TILT[k] for k in kinds])
    mix = base[None, :] * tilt * rng.lognormal(0.0, 0.25, (n_ag, N_OFF))
    violent = np.arange(N_OFF) < 4
    mix[:, violent] *= np.where(kinds == "police", rel**0.12, 1.0)[:, None]

    t = np.arange(n_y, dtype=float)
    trend = np.exp(_vec([o.slope for o in T.OFFENSES])[None, :] * t[:, None])
    for yi, y in enumerate(years):
        if y in T.YEAR_SHOCKS:
            trend[yi] *= _vec(T.YEAR_SHOCKS[y])
        if y >= T.RAPE_REVISED_FROM:
            trend[yi, T.RAPE] *= T.RAPE_REVISED_FACTOR
    expected = exposure[:, :, None] * mix[:, None, :] * trend[None, :, :]
    total = expected.sum()
    if total <= 0:
        raise SynthError("no population to place crimes in; raise the population")
    counts = rng.multinomial(n_incidents, (expected / total).ravel()).reshape(n_ag, n_y, N_OFF)

    clear = _vec([o.clearance for o in T.OFFENSES])
    clear_logit = (np.log(clear / (1 - clear))[None, :] + rng.normal(0.0, 0.35, (n_ag, 1))
                   + rng.normal(0.0, 0.15, (n_ag, N_OFF))
                   - np.where(has_leaf, 0.12 * np.log10(rel), 0.0)[:, None])
    end_day = day_number(dt.date(years[-1], 12, 31))
    return CrimeModel(years=years, exposure=exposure, counts=counts, clear_logit=clear_logit, end_day=end_day)


def incident_chunk(rng: np.random.Generator, model: CrimeModel, yi: int) -> dict[str, np.ndarray]:
    """All crimes reported in year ``yi`` as numpy columns, sorted by agency and report date."""
    year = model.years[yi]
    counts = model.counts[:, yi, :].ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    agency = (cell // N_OFF).astype(np.int32)
    off = (cell % N_OFF).astype(np.int16)
    n = len(cell)
    offs = T.OFFENSES

    rep = day_number(dt.date(year, 1, 1)) + np.searchsorted(_seasonal_days(year), rng.random(n), side="right")
    late = rng.random(n) >= _vec([o.same_day_report for o in offs])[off]
    lag = np.ceil(rng.lognormal(_vec([o.report_lag_mu for o in offs])[off],
                                _vec([o.report_lag_sigma for o in offs])[off]))
    occ = rep - np.where(late, np.minimum(lag, 3650), 0).astype(np.int64)

    def sub(offence: int, shares: tuple[float, ...] | list[float]) -> np.ndarray:
        out = np.full(n, -1, dtype=np.int16)
        m = off == offence
        out[m] = np.searchsorted(_cdf(shares), rng.random(int(m.sum())), side="right")
        return out

    larc = sub(T.LARC, [lt[3] for lt in T.LARCENY_TYPES])
    aprop = sub(T.ARSON, [ap[1] for ap in T.ARSON_PROPERTY])
    entry = sub(T.BURG, T.ENTRY_MIX)
    veh = sub(T.MVT, T.VEHICLE_MIX)
    weapon = np.full(n, -1, dtype=np.int16)
    for o, shares in T.WEAPON_MIX.items():
        weapon = np.where(off == o, sub(o, shares), weapon)
    p_att = np.array([T.RAPE_ATTEMPTED if o == T.RAPE else T.ATTEMPTED.get(o, 0.0) for o in range(N_OFF)])
    att = (rng.random(n) < p_att[off]) | (entry == T.ENTRIES.index("ATTFORCE"))

    loc_group = np.where(off == T.LARC, 6 + larc, np.where(off == T.ARSON, 6 + len(T.LARCENY_TYPES) + aprop, off))
    loc = _draw_grouped(rng, loc_group.astype(np.int64), _LOC_CDFS)

    unknown = rng.random(n) < _vec([o.p_time_unknown for o in offs])[off]
    p_night = _vec([o.p_night for o in offs])[off]
    p_night = np.where(off == T.BURG, np.where(loc == RESIDENCE, T.BURGLARY_NIGHT[True],
                                               T.BURGLARY_NIGHT[False]), p_night)
    night = rng.random(n) < p_night
    hour = np.where(night, _NIGHT_HOURS[rng.integers(0, 12, n)], 6 + rng.integers(0, 12, n))
    minute = np.where(unknown, -1, hour * 60 + rng.integers(0, 60, n)).astype(np.int16)
    night_flag = np.where(unknown, -1, night.astype(np.int8)).astype(np.int8)

    value = np.full(n, -1, dtype=np.int64)
    for o, (mu, sigma) in T.VALUE_LOGNORMAL.items():
        m = off == o
        value[m] = np.maximum(1, np.rint(rng.lognormal(mu, sigma, int(m.sum())))).astype(np.int64)

    logit = model.clear_logit[agency, off] + _vec([o.clear_slope for o in offs])[off] * yi
    cleared = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    same = rng.random(n) < _vec([o.same_day_clear for o in offs])[off]
    clag = np.ceil(rng.lognormal(_vec([o.clear_lag_mu for o in offs])[off], 1.2))
    cdate = rep + np.where(same, 0, np.minimum(clag, 3650)).astype(np.int64)
    cleared &= cdate <= model.end_day
    by_arrest = rng.random(n) < _vec([o.by_arrest for o in offs])[off]
    ctype = np.where(cleared, np.where(by_arrest, 0, 1), -1).astype(np.int8)
    cdate = np.where(cleared, cdate, -1)

    order = np.lexsort((minute, occ, rep, agency))
    cols = {
        "agency": agency, "off": off, "rep": rep.astype(np.int32), "occ": occ.astype(np.int32),
        "minute": minute, "night": night_flag, "loc": loc, "weapon": weapon, "att": att, "entry": entry,
        "veh": veh, "larc": larc, "value": value.astype(np.int32), "aprop": aprop, "cleared": cleared,
        "ctype": ctype, "cdate": cdate.astype(np.int32),
    }
    cols = {k: v[order] for k, v in cols.items()}
    ag = cols["agency"]
    cols["seq"] = (np.arange(n) - np.searchsorted(ag, ag, side="left") + 1).astype(np.int32)
    return cols


def compact_for_aggregation(chunk: dict[str, np.ndarray], year: int) -> pa.Table:
    """The columns the Crimes and Clearances aggregation needs, as a small-integer Arrow table."""
    cyear = np.full(len(chunk["agency"]), -1, dtype=np.int32)
    m = chunk["cleared"]
    if m.any():
        cyear[m] = np.array(chunk["cdate"][m], dtype="datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    return pa.table({
        "agency": chunk["agency"],
        "ryear": np.full(len(cyear), year, dtype=np.int32),
        "cyear": pa.array(cyear, mask=cyear < 0),
        "off": chunk["off"], "att": chunk["att"], "loc": chunk["loc"], "weapon": chunk["weapon"],
        "entry": chunk["entry"], "night": chunk["night"], "veh": chunk["veh"], "larc": chunk["larc"],
        "value": chunk["value"], "aprop": chunk["aprop"],
    })


# ---------------------------------------------------------------------------------------------
# Arrests
# ---------------------------------------------------------------------------------------------


@dataclass
class ArrestParts:
    """Arrests collected before numbering: agency, date, offence row and the linked crime, if any."""

    agency: list[np.ndarray] = field(default_factory=list)
    date: list[np.ndarray] = field(default_factory=list)
    offense: list[np.ndarray] = field(default_factory=list)
    inc_year: list[np.ndarray] = field(default_factory=list)
    inc_seq: list[np.ndarray] = field(default_factory=list)

    def add(self, agency: np.ndarray, date: np.ndarray, offense: np.ndarray, inc_year: np.ndarray,
            inc_seq: np.ndarray) -> None:
        self.agency.append(agency.astype(np.int32))
        self.date.append(date.astype(np.int32))
        self.offense.append(offense.astype(np.int16))
        self.inc_year.append(inc_year.astype(np.int16))
        self.inc_seq.append(inc_seq.astype(np.int32))

    def concat(self) -> dict[str, np.ndarray]:
        return {
            "agency": np.concatenate(self.agency), "date": np.concatenate(self.date),
            "offense": np.concatenate(self.offense), "inc_year": np.concatenate(self.inc_year),
            "inc_seq": np.concatenate(self.inc_seq),
        }


def linked_arrests(rng: np.random.Generator, chunk: dict[str, np.ndarray], year: int, parts: ArrestParts) -> None:
    """One or more arrests for each crime cleared by arrest, on the clearance date."""
    idx = np.nonzero(chunk["ctype"] == 0)[0]
    if not len(idx):
        return
    off = chunk["off"][idx]
    extra = rng.poisson(_vec([o.arrestees for o in T.OFFENSES])[off])
    rows = np.repeat(idx, 1 + extra)
    off = chunk["off"][rows]
    k = np.array(T.LINKED_ARREST)[off]
    petty = (off == T.LARC) & (chunk["value"][rows] <= T.GRAND_THEFT_THRESHOLD)
    k = np.where(petty, T.PETTY_THEFT, k)
    parts.add(chunk["agency"][rows], chunk["cdate"][rows], k, np.full(len(rows), year), chunk["seq"][rows])


def other_arrests(rng: np.random.Generator, model: CrimeModel, agencies: Agencies, n: int,
                  parts: ArrestParts) -> None:
    """Arrests not tied to a reported crime (drugs, alcohol, warrants...), ``n`` in all."""
    if n <= 0:
        return
    years = model.years
    w = _vec([a.weight for a in T.ARREST_OFFENSES])
    reform = np.ones((len(years), len(w)))
    for ki, a in enumerate(T.ARREST_OFFENSES):
        if a.code in T.ARREST_REFORMS:
            start, factor = T.ARREST_REFORMS[a.code]
            reform[[i for i, y in enumerate(years) if y >= start], ki] *= factor
    year_factor = _vec([T.ARREST_YEAR_FACTOR.get(y, 1.0) for y in years])
    traffic = np.array([a.traffic for a in T.ARREST_OFFENSES])
    chp = np.array(agencies.kind) == "highway_patrol"
    tilt = np.ones((len(agencies), len(w)))
    tilt[np.ix_(chp, traffic)] = 25.0
    tilt[np.ix_(chp, ~traffic)] = 0.2
    expected = model.exposure[:, :, None] * (w[None, :] * reform)[None, :, :] * year_factor[None, :, None]
    expected *= tilt[:, None, :]
    counts = rng.multinomial(n, (expected / expected.sum()).ravel()).reshape(expected.shape)
    n_k = len(w)
    for yi, year in enumerate(years):
        flat = counts[:, yi, :].ravel()
        cell = np.repeat(np.arange(flat.size), flat)
        m = len(cell)
        day = day_number(dt.date(year, 1, 1)) + np.searchsorted(_seasonal_days(year), rng.random(m), side="right")
        parts.add(cell // n_k, day, cell % n_k, np.full(m, -1), np.full(m, -1))


def _age_cdfs() -> dict[str, tuple[int, np.ndarray]]:
    out = {}
    for name, (shape, scale, offset, lo, hi) in T.AGE_PROFILES.items():
        x = np.arange(lo, hi + 1, dtype=float) + 0.5 - offset
        density = np.where(x > 0, np.maximum(x, 1e-9) ** (shape - 1) * np.exp(-x / scale), 0.0)
        out[name] = (lo, _cdf(density + 1e-6))
    return out


def arrest_people(rng: np.random.Generator, offense: np.ndarray, county: np.ndarray,
                  race_share: np.ndarray) -> dict[str, np.ndarray]:
    """Age, sex, race (as recorded) and disposition for each arrest, by offence and county."""
    n = len(offense)
    aos = T.ARREST_OFFENSES
    p_male = _vec([a.p_male for a in aos])[offense]
    sex = np.where(rng.random(n) < p_male, 0, 1).astype(np.int8)
    sex[rng.random(n) < T.SEX_RECORDED_UNKNOWN] = 2
    profiles = list(T.AGE_PROFILES)
    prof = np.array([profiles.index(a.age_profile) for a in aos])[offense]
    cdfs = _age_cdfs()
    age = np.zeros(n, dtype=np.int16)
    u = rng.random(n)
    for pi, name in enumerate(profiles):
        m = prof == pi
        lo, cdf = cdfs[name]
        age[m] = lo + np.searchsorted(cdf, u[m], side="right")
    factor = _vec([T.RACE_ARREST_FACTOR[r] for r in T.POP_RACES])
    p = race_share * factor[None, :]
    p = p / p.sum(axis=1, keepdims=True) * (1 - T.RACE_RECORDED_OTHER - T.RACE_RECORDED_UNKNOWN)
    p = np.concatenate([p, np.full((len(p), 1), T.RACE_RECORDED_OTHER),
                        np.full((len(p), 1), T.RACE_RECORDED_UNKNOWN)], axis=1)
    race = _draw_grouped(rng, county.astype(np.int64), [_cdf(row) for row in p])
    juvenile = (age < 18).astype(np.int64)
    disp_cdfs = [_cdf([s for _, s in T.ADULT_DISPOSITIONS]), _cdf([s for _, s in T.JUVENILE_DISPOSITIONS])]
    disp = _draw_grouped(rng, juvenile, disp_cdfs)
    return {"age": age, "sex": sex, "race": race, "disp": disp, "juvenile": juvenile.astype(bool)}


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvalidRow:
    """A row made invalid on purpose: ingest must quarantine it for the reason given."""

    source: str
    key: str
    source_row: int  # row number in the file as a person sees it (the header is row 1)
    kind: str
    field: str
    value: str


class Strings:
    """Lookup tables that turn the generator's integer codes into the text the files hold."""

    def __init__(self, agencies: Agencies, counties: list[County], first_day: int, last_day: int) -> None:
        self.first_day = first_day
        days = np.arange(first_day, last_day + 1).astype("datetime64[D]")
        iso = np.datetime_as_string(days, unit="D")
        self.iso = pa.array(iso)
        self.us = pa.array([f"{s[5:7]}/{s[8:10]}/{s[0:4]}" for s in iso.tolist()])
        self.times = pa.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)])
        self.agency = pa.array(agencies.code)
        self.ncic = pa.array(agencies.ncic)
        self.ori = pa.array(agencies.ori)
        self.county = pa.array([counties[c].code for c in agencies.county])

    def day(self, days: np.ndarray, us: bool = False) -> pa.Array:
        idx = days.astype(np.int64) - self.first_day
        return pc.take(self.us if us else self.iso, pa.array(idx, mask=days < 0))


def _lookup(values: list[str] | tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return pc.take(pa.array(list(values), type=pa.string()), pa.array(idx.astype(np.int64), mask=idx < 0))


def _number(prefix: pa.Array, middle: str, seq: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(seq.astype(np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, pa.scalar(middle), digits, "-")


INCIDENT_COLUMNS = (
    "INCIDENT_NO", "AGENCY", "ORI", "CNTY", "OCC_DATE", "OCC_TIME", "RPT_DATE", "NIBRS_CODE", "OFFENSE_CLASS",
    "ATT_COMP", "LOC_CODE", "WEAPON", "ENTRY", "VEH_TYPE", "LARC_TYPE", "PROP_VALUE", "ARSON_PROP",
    "CLEARED", "CLR_TYPE", "CLR_DATE",
)
INCIDENT_SCHEMA = pa.schema([(c, pa.string()) for c in INCIDENT_COLUMNS])


def format_incidents(chunk: dict[str, np.ndarray], year: int, s: Strings, width: int) -> pa.Table:
    """The crimes of one report year as the synthetic records system writes them (all text)."""
    ag = chunk["agency"]
    off = chunk["off"]
    nibrs = np.array([o.nibrs for o in T.OFFENSES], dtype=object)
    larc_nibrs = np.array([lt[2] for lt in T.LARCENY_TYPES], dtype=object)
    code = np.where(off == T.LARC, larc_nibrs[np.maximum(chunk["larc"], 0)], nibrs[off])
    value = chunk["value"]
    cols = {
        "INCIDENT_NO": _number(pc.take(s.ncic, ag), str(year), chunk["seq"], width),
        "AGENCY": pc.take(s.agency, ag),
        "ORI": pc.take(s.ori, ag),
        "CNTY": pc.take(s.county, ag),
        "OCC_DATE": s.day(chunk["occ"], us=True),
        "OCC_TIME": pc.take(s.times, pa.array(chunk["minute"].astype(np.int64), mask=chunk["minute"] < 0)),
        "RPT_DATE": s.day(chunk["rep"], us=True),
        "NIBRS_CODE": pa.array(code, type=pa.string()),
        "OFFENSE_CLASS": _lookup([o.klass for o in T.OFFENSES], off),
        "ATT_COMP": pa.array(np.where(chunk["att"], "A", "C"), type=pa.string()),
        "LOC_CODE": _lookup(T.LOC_CODES, chunk["loc"]),
        "WEAPON": _lookup(T.WEAPONS, chunk["weapon"]),
        "ENTRY": _lookup(T.ENTRIES, chunk["entry"]),
        "VEH_TYPE": _lookup(T.VEHICLES, chunk["veh"]),
        "LARC_TYPE": _lookup([lt[0] for lt in T.LARCENY_TYPES], chunk["larc"]),
        "PROP_VALUE": pc.cast(pa.array(value.astype(np.int64), mask=value < 0), pa.string()),
        "ARSON_PROP": _lookup([ap[0] for ap in T.ARSON_PROPERTY], chunk["aprop"]),
        "CLEARED": pa.array(np.where(chunk["cleared"], "Y", "N"), type=pa.string()),
        "CLR_TYPE": _lookup(("A", "E"), chunk["ctype"]),
        "CLR_DATE": s.day(chunk["cdate"], us=True),
    }
    return pa.table(cols, schema=INCIDENT_SCHEMA)


ARREST_COLUMNS = (
    "arrest_no", "arrest_date", "agency", "ori", "county", "incident_no", "age", "sex", "race", "bcs_code",
    "offense_desc", "summary_category", "level", "disposition",
)
ARREST_SCHEMA = pa.schema([(c, pa.string()) for c in ARREST_COLUMNS])


def format_arrests(a: dict[str, np.ndarray], people: dict[str, np.ndarray], s: Strings, width: int,
                   inc_width: int) -> pa.Table:
    """Arrests as the synthetic arrest records write them (all text)."""
    ag = a["agency"]
    aos = T.ARREST_OFFENSES
    k = a["offense"]
    years = np.array(a["date"], dtype="datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    year_txt = pc.cast(pa.array(years.astype(np.int64)), pa.string())
    arrest_no = pc.binary_join_element_wise(
        pc.take(s.ncic, ag), pc.binary_join_element_wise(pa.scalar("A"), year_txt, ""),
        pc.utf8_lpad(pc.cast(pa.array(a["seq"].astype(np.int64)), pa.string()), width, "0"), "-")
    linked = a["inc_year"] >= 0
    inc_no = pc.binary_join_element_wise(
        pc.take(s.ncic, ag), pc.cast(pa.array(a["inc_year"].astype(np.int64)), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(np.maximum(a["inc_seq"], 0).astype(np.int64)), pa.string()),
                     inc_width, "0"), "-")
    races = [T.RACE_SOURCE[r] for r in (*T.POP_RACES, "other", "unknown")]
    dispositions = [T.DISPOSITION_SOURCE[d] for d, _ in (*T.ADULT_DISPOSITIONS, *T.JUVENILE_DISPOSITIONS)]
    disp = _lookup(dispositions, np.where(people["juvenile"], len(T.ADULT_DISPOSITIONS), 0) + people["disp"])
    cols = {
        "arrest_no": arrest_no,
        "arrest_date": s.day(a["date"]),
        "agency": pc.take(s.agency, ag),
        "ori": pc.take(s.ori, ag),
        "county": pc.take(s.county, ag),
        "incident_no": pc.if_else(pa.array(linked), inc_no, pa.scalar(None, pa.string())),
        "age": pc.cast(pa.array(people["age"].astype(np.int64)), pa.string()),
        "sex": _lookup(("M", "F", "U"), people["sex"]),
        "race": _lookup(races, people["race"]),
        "bcs_code": _lookup([x.code for x in aos], k),
        "offense_desc": _lookup([x.description for x in aos], k),
        "summary_category": _lookup([x.category for x in aos], k),
        "level": pc.if_else(pc.equal(_lookup([x.level for x in aos], k), ""), pa.scalar(None, pa.string()),
                            _lookup([x.level for x in aos], k)),
        "disposition": disp,
    }
    return pa.table(cols, schema=ARREST_SCHEMA)


@dataclass
class Corruption:
    """One deliberately invalid row to splice into a chunk: which row to copy and how to spoil it."""

    kind: str
    field: str
    column: str
    make: Callable[[pa.Table, int, np.random.Generator], str]
    eligible: Callable[[pa.Table], np.ndarray] | None = None


class SplicingWriter:
    """Writes tables to one CSV file in order, splicing in spoiled copies of chosen rows.

    A spoiled row gets a fresh record number: the next free number of its agency and year.
    """

    def __init__(self, path: Path, schema: pa.Schema, source: str, key_column: str) -> None:
        self.path = path
        self.writer = pacsv.CSVWriter(str(path), schema, write_options=_WRITE)
        self.rows = 0
        self.source = source
        self.key_column = key_column
        self.invalid: list[InvalidRow] = []
        self._issued: dict[str, int] = {}

    def _fresh_key(self, table: pa.Table, r: int) -> str:
        keys = table.column(self.key_column)
        prefix, digits = keys[r].as_py().rsplit("-", 1)
        used = pc.sum(pc.starts_with(keys, prefix + "-")).as_py() or 0
        issued = self._issued.get(prefix, 0) + 1
        self._issued[prefix] = issued
        return f"{prefix}-{used + issued:0{len(digits)}d}"

    def write(self, table: pa.Table, rng: np.random.Generator | None = None,
              spoil: list[Corruption] | None = None) -> None:
        """Write ``table``, adding one spoiled copy of a random eligible row per corruption in ``spoil``."""
        inserts: list[tuple[int, pa.Table, Corruption, str]] = []
        for corruption in spoil or []:
            assert rng is not None
            candidates = (np.nonzero(corruption.eligible(table))[0] if corruption.eligible
                          else np.arange(table.num_rows))
            if not len(candidates):
                continue
            r = int(rng.choice(candidates))
            key = self._fresh_key(table, r)
            row = table.slice(r, 1)
            value = corruption.make(table, r, rng)
            row = row.set_column(row.schema.get_field_index(corruption.column), corruption.column,
                                 pa.array([value], pa.string()))
            row = row.set_column(row.schema.get_field_index(self.key_column), self.key_column,
                                 pa.array([key], pa.string()))
            inserts.append((int(rng.integers(0, table.num_rows + 1)), row, corruption, key))
        inserts.sort(key=lambda x: x[0])
        start = 0
        for pos, row, corruption, key in inserts:
            self._emit(table.slice(start, pos - start))
            start = pos
            self.invalid.append(InvalidRow(self.source, key, self.rows + 2, corruption.kind, corruption.field,
                                           row.column(corruption.column)[0].as_py()))
            self._emit(row)
        self._emit(table.slice(start))

    def _emit(self, table: pa.Table) -> None:
        if table.num_rows:
            self.writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        self.writer.close()
