"""What really happened in the city: citations, bookings, cases, EMS calls, ED visits, shelter stays.

Events are drawn per person from the latent utilizer class (Poisson counts whose rate
is the class rate times a personal frailty), with dates spread over the study window.
Prosecution cases follow from bookings and citations; ED visits partly follow from EMS
transports to the city hospital. Everything is true data: how each department *records*
these events (its format, codes and errors) is the business of ``extracts.py``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

import numpy as np

from justicelab.synth.names import DATA_DIR
from justicelab.synth.people import (
    CHRONIC,
    FEMALE,
    REPEAT,
    Population,
    Streets,
)

Events = dict[str, np.ndarray]

SECOND = np.timedelta64(1, "s")
HOUR = 3600
DAY = 86400

#: Relative frequency of events by hour of day.
DAYTIME = np.array([2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 9, 9, 9, 9, 9, 8, 7, 6, 5, 4, 3, 2], float)
NIGHTTIME = np.array([6, 6, 5, 4, 3, 2, 2, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6, 7, 7, 7, 7, 7], float)
ALL_DAY = np.array([3, 3, 2, 2, 2, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 4], float)

#: EMS call types, in the standard's ems_call_type codes.
CALL_TYPES: tuple[str, ...] = ("overdose", "intoxication", "psychiatric", "injury", "medical", "assault", "other")
OVERDOSE, INTOXICATION, PSYCHIATRIC, INJURY, MEDICAL, ASSAULT, OTHER_CALL = range(7)

HOSPITALS: tuple[str, ...] = (
    "ALDER BAY GENERAL HOSPITAL",
    "ST BRIGID MEDICAL CENTER",
    "MERCY VALLEY HOSPITAL",
    "COUNTY PSYCHIATRIC EMERGENCY SERVICES",
)
CITY_HOSPITAL = 0

AGENCIES: tuple[str, ...] = ("ABPD", "ACSO", "CHP", "ABTPD")
AGENCY_P = np.array([0.8, 0.12, 0.05, 0.03])

RELEASE_TYPES: tuple[str, ...] = (
    "cite_release",
    "own_recognizance",
    "bail",
    "time_served",
    "charges_dropped",
    "transfer",
    "pretrial_program",
    "other",
)
DISPOSITIONS: tuple[str, ...] = ("convicted", "dismissed", "acquitted", "diverted", "declined", "pending")
SENTENCES: tuple[str, ...] = ("prison", "jail", "probation", "fine", "diversion", "none", "other")
ED_DISPOSITIONS: tuple[str, ...] = (
    "discharged",
    "admitted",
    "transferred",
    "left_ama",
    "left_without_being_seen",
    "died",
    "other",
)
SHELTER_PROGRAMS: tuple[str, ...] = ("emergency_shelter", "transitional_housing", "safe_haven", "street_outreach")
SHELTERS: tuple[tuple[str, int], ...] = (
    ("HARBOR LIGHT EMERGENCY SHELTER", 0),
    ("MISSION STREET SHELTER", 0),
    ("BRIDGE HOUSE TRANSITIONAL LIVING", 1),
    ("ALDER BAY SAFE HAVEN", 2),
    ("DOWNTOWN STREET OUTREACH", 3),
)
SHELTER_P = np.array([0.4, 0.25, 0.12, 0.08, 0.15])
SHELTER_MEAN_DAYS = np.array([21.0, 150.0, 90.0, 60.0])


@dataclass(frozen=True)
class Offenses:
    code: np.ndarray
    description: np.ndarray
    level: np.ndarray
    citation: np.ndarray
    booking: np.ndarray
    hfu: np.ndarray


@dataclass(frozen=True)
class Diagnoses:
    code: np.ndarray
    description: np.ndarray
    category: np.ndarray
    substance: np.ndarray
    weight: np.ndarray


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def offenses() -> Offenses:
    """The offence table (``data/offenses.csv``): statute code, text, level and how often each occurs."""
    rows = _rows("offenses.csv")

    def col(k: str) -> np.ndarray:
        return np.array([float(r[k]) for r in rows])

    return Offenses(
        code=np.array([r["code"] for r in rows]),
        description=np.array([r["description"] for r in rows]),
        level=np.array([r["level"] for r in rows]),
        citation=col("citation"),
        booking=col("booking"),
        hfu=col("hfu"),
    )


@cache
def diagnoses() -> Diagnoses:
    """The ED diagnosis table (``data/diagnoses.csv``): ICD-10-CM code, text, call category, weight."""
    rows = _rows("diagnoses.csv")
    return Diagnoses(
        code=np.array([r["code"] for r in rows]),
        description=np.array([r["description"] for r in rows]),
        category=np.array([CALL_TYPES.index(r["category"]) for r in rows]),
        substance=np.array([r["substance"] == "1" for r in rows]),
        weight=np.array([float(r["weight"]) for r in rows]),
    )


def _choice_by(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One draw per row of a (rows x options) weight matrix."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _pick(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def _end_ts(pop: Population) -> np.datetime64:
    return (pop.end + np.timedelta64(1, "D")).astype("datetime64[s]") - SECOND


def _weekday(day: np.ndarray) -> np.ndarray:
    return (day.astype("datetime64[D]").astype(np.int64) + 3) % 7  # Monday = 0


def draw_events(
    rng: np.random.Generator,
    pop: Population,
    rate: np.ndarray,
    *,
    hours: np.ndarray,
    mult: np.ndarray | None = None,
    min_age: int = 0,
    who: np.ndarray | None = None,
) -> Events:
    """Poisson event counts per person (class rate x frailty x ``mult``), dated uniformly in the window."""
    span_days = int((pop.end - pop.start).astype(np.int64)) + 1
    lam = rate[pop.uclass] * pop.frailty * (span_days / 365.25)
    if mult is not None:
        lam = lam * mult
    if who is not None:
        lam = np.where(who, lam, 0.0)
    counts = rng.poisson(lam)
    person = np.repeat(np.arange(pop.n, dtype=np.int64), counts)
    total = len(person)
    day = pop.start + rng.integers(0, span_days, size=total).astype("timedelta64[D]")
    secs = rng.choice(24, size=total, p=hours / hours.sum()) * HOUR + rng.integers(0, HOUR, size=total)
    time = day.astype("datetime64[s]") + secs.astype("timedelta64[s]")
    keep = (day >= pop.dob[person]) & (pop.age_on(person, day) >= min_age)
    person, time = person[keep], time[keep]
    order = np.lexsort((person, time))
    return {"person": person[order], "time": time[order]}


def _subset(ev: Events, keep: np.ndarray) -> Events:
    return {k: v[keep] for k, v in ev.items()}


def _place(
    rng: np.random.Generator, streets: Streets, n: int, downtown: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Random street locations (house number, street); downtown streets where ``downtown`` is set."""
    street = rng.choice(len(streets.names), size=n, p=streets.prob)
    if downtown is not None and downtown.any():
        dt_idx = np.flatnonzero(streets.downtown)
        dt_p = streets.prob[dt_idx] / streets.prob[dt_idx].sum()
        street = np.where(downtown, dt_idx[rng.choice(len(dt_idx), size=n, p=dt_p)], street)
    number = rng.integers(1, 80, size=n) * 100 + rng.integers(0, 100, size=n)
    return number, street


def citations(rng: np.random.Generator, pop: Population, streets: Streets) -> Events:
    """Police citations (infractions and misdemeanours), heavy for the repeat and chronic classes."""
    ev = draw_events(rng, pop, np.array([0.012, 0.2, 0.6, 2.4]), hours=DAYTIME, min_age=14)
    p = ev["person"]
    n = len(p)
    off = offenses()
    risky = ((pop.uclass[p] >= REPEAT) | pop.homeless[p] | pop.substance[p]) & (rng.random(n) < 0.7)
    ev["offense"] = np.where(risky, _pick(rng, off.hfu * (off.citation > 0), n), _pick(rng, off.citation, n))
    day = ev["time"].astype("datetime64[D]")
    court = day + rng.integers(21, 91, size=n).astype("timedelta64[D]")
    wd = _weekday(court)
    court = court + np.where(wd >= 5, 7 - wd, 0).astype("timedelta64[D]")
    ev["court_date"] = np.where(rng.random(n) < 0.08, np.datetime64("NaT", "D"), court)
    ev["loc_num"], ev["loc_street"] = _place(rng, streets, n, downtown=pop.homeless[p])
    ev["loc_cross"] = np.where(rng.random(n) < 0.25, rng.choice(len(streets.names), size=n), -1)
    officers = max(20, pop.n // 400)
    badges = rng.choice(np.arange(1000, 10000), size=officers, replace=False)
    ev["officer"] = badges[rng.integers(0, officers, size=n)]
    return ev


def bookings(rng: np.random.Generator, pop: Population) -> Events:
    """Jail bookings with their release; people still in custody at the end have no release."""
    ev = draw_events(rng, pop, np.array([0.0015, 0.05, 0.3, 1.5]), hours=NIGHTTIME, min_age=18)
    p = ev["person"]
    n = len(p)
    off = offenses()
    heavy = (pop.uclass[p] >= REPEAT) & (rng.random(n) < 0.6)
    charge = np.where(heavy, _pick(rng, off.hfu * (off.booking > 0), n), _pick(rng, off.booking, n))
    ev["charge"] = charge
    felony = off.level[charge] == "F"
    hours = np.where(felony, rng.lognormal(np.log(72), 1.5, size=n), rng.lognormal(np.log(8), 1.0, size=n))
    secs = np.clip(hours * HOUR, HOUR, 365 * DAY).astype(np.int64)
    release = ev["time"] + secs.astype("timedelta64[s]")
    # Release type follows from time in custody.
    bucket = np.where(secs < 12 * HOUR, 0, np.where(secs < 7 * DAY, 1, 2))
    rtype = np.empty(n, dtype=np.int64)
    for b, weights in enumerate(
        ([55, 30, 10, 0, 5, 0, 0, 0], [0, 25, 35, 10, 15, 5, 10, 0], [0, 0, 15, 50, 0, 15, 10, 10])
    ):
        sel = np.flatnonzero(bucket == b)
        rtype[sel] = _pick(rng, np.array(weights, float), len(sel))
    in_custody = release > _end_ts(pop)
    ev["release"] = np.where(in_custody, np.datetime64("NaT", "s"), release)
    ev["release_type"] = np.where(in_custody, -1, rtype)
    ev["facility"] = np.where(
        pop.sex[p] == FEMALE, 2, np.where(rng.random(n) < 0.8, 0, 1)
    )  # MAIN JAIL, NORTH BRANCH JAIL, WOMENS DETENTION FACILITY
    ev["agency"] = _pick(rng, AGENCY_P, n)
    return ev


def prosecutions(rng: np.random.Generator, pop: Population, cit: Events, book: Events) -> Events:
    """Cases the city prosecutor files from bookings and misdemeanour citations."""
    off = offenses()
    b_felony = off.level[book["charge"]] == "F"
    b_take = rng.random(len(book["person"])) < np.where(b_felony, 0.85, 0.6)
    c_take = (off.level[cit["offense"]] == "M") & (rng.random(len(cit["person"])) < 0.15)
    person = np.concatenate([book["person"][b_take], cit["person"][c_take]])
    when = np.concatenate([book["time"][b_take], cit["time"][c_take]]).astype("datetime64[D]")
    charge = np.concatenate([book["charge"][b_take], cit["offense"][c_take]])
    agency = np.concatenate([book["agency"][b_take], np.zeros(int(c_take.sum()), dtype=np.int64)])
    n = len(person)
    filing = when + rng.integers(1, 31, size=n).astype("timedelta64[D]")
    keep = filing <= pop.end
    person, filing, charge, agency = person[keep], filing[keep], charge[keep], agency[keep]
    n = len(person)
    level = off.level[charge].copy()
    reduced = (level == "F") & (rng.random(n) < 0.1)
    level[reduced] = "M"
    level[level == "I"] = "M"
    disp = rng.choice(len(DISPOSITIONS), size=n, p=[0.46, 0.22, 0.02, 0.10, 0.08, 0.12])
    lag = np.where(
        disp == DISPOSITIONS.index("declined"),
        rng.integers(0, 15, size=n),
        np.clip(rng.lognormal(np.log(90), 0.8, size=n), 1, 900).astype(np.int64),
    )
    ddate = filing + lag.astype("timedelta64[D]")
    pending = (disp == DISPOSITIONS.index("pending")) | (ddate > pop.end)
    disp = np.where(pending, DISPOSITIONS.index("pending"), disp)
    ddate = np.where(pending, np.datetime64("NaT", "D"), ddate)
    felony = level == "F"
    convicted_sentence = np.where(
        felony,
        rng.choice(len(SENTENCES), size=n, p=[0.15, 0.4, 0.4, 0.05, 0, 0, 0]),
        rng.choice(len(SENTENCES), size=n, p=[0, 0.35, 0.35, 0.25, 0, 0, 0.05]),
    )
    sentence = np.select(
        [disp == DISPOSITIONS.index("convicted"), disp == DISPOSITIONS.index("diverted"), pending],
        [convicted_sentence, SENTENCES.index("diversion"), -1],
        SENTENCES.index("none"),
    )
    order = np.lexsort((person, filing))
    ev = {
        "person": person,
        "time": filing.astype("datetime64[s]"),
        "filing": filing,
        "charge": charge,
        "level": level,
        "agency": agency,
        "disposition": disp,
        "disposition_date": ddate,
        "sentence": sentence,
    }
    return {k: v[order] for k, v in ev.items()}


def _age_factor(pop: Population) -> np.ndarray:
    age = pop.age_on(np.arange(pop.n), np.full(pop.n, pop.end))
    return 1.0 + np.maximum(age - 55, 0) / 12.0 + np.where(age < 5, 0.6, 0.0)


def _call_weights(pop: Population, person: np.ndarray, base: list[float]) -> np.ndarray:
    w = np.tile(np.array(base, float), (len(person), 1))
    w[:, OVERDOSE] += np.where(pop.substance[person], 0.2, 0.0)
    w[:, INTOXICATION] += np.where(pop.substance[person], 0.25, 0.0)
    w[:, PSYCHIATRIC] += np.where(pop.psych[person], 0.25, 0.0)
    w[:, ASSAULT] += np.where(pop.homeless[person], 0.06, 0.0)
    return w


def ems(rng: np.random.Generator, pop: Population, streets: Streets) -> Events:
    """EMS responses: call type from the person's risks, transport and destination, scene location."""
    mult = _age_factor(pop) * np.where(pop.homeless, 1.5, 1.0)
    ev = draw_events(rng, pop, np.array([0.035, 0.08, 0.4, 3.0]), hours=ALL_DAY, mult=mult)
    p = ev["person"]
    n = len(p)
    call = _choice_by(rng, _call_weights(pop, p, [0.02, 0.04, 0.06, 0.25, 0.53, 0.05, 0.05]))
    ev["call_type"] = call
    transported = rng.random(n) < np.array([0.7, 0.55, 0.8, 0.65, 0.72, 0.6, 0.35])[call]
    ev["transported"] = transported
    dest = _pick(rng, np.array([0.6, 0.3, 0.1, 0.0]), n)
    dest = np.where((call == PSYCHIATRIC) & (rng.random(n) < 0.5), 3, dest)
    ev["destination"] = np.where(transported, dest, -1)
    ev["unit"] = np.where(rng.random(n) < 0.7, rng.integers(1, 25, size=n), 100 + rng.integers(1, 31, size=n))
    # Scene: mostly home for housed people, the street for the homeless.
    at_home = ~pop.homeless[p] & (rng.random(n) < 0.65)
    num, street = _place(rng, streets, n, downtown=pop.homeless[p])
    day = ev["time"].astype("datetime64[D]")
    slot = pop.address_slot(p, day)
    rows = np.arange(n)
    ev["scene_num"] = np.where(at_home, pop.addr_num[p][rows, slot], num)
    ev["scene_street"] = np.where(at_home, pop.addr_street[p][rows, slot], street)
    ev["scene_unit"] = np.where(at_home, pop.addr_unit[p][rows, slot], 0)
    ev["pcr"] = 5_000_000 + np.cumsum(rng.integers(1, 9, size=n))
    return ev


def ed_visits(rng: np.random.Generator, pop: Population, ems_ev: Events) -> Events:
    """ED visits at the city hospital: walk-ins plus EMS transports that arrive there."""
    mult = _age_factor(pop) * np.where(pop.homeless, 1.5, 1.0)
    walk = draw_events(rng, pop, np.array([0.15, 0.3, 0.7, 2.5]), hours=ALL_DAY, mult=mult)
    wn = len(walk["person"])
    walk_call = _choice_by(rng, _call_weights(pop, walk["person"], [0.01, 0.02, 0.05, 0.28, 0.6, 0.02, 0.02]))
    brought = ems_ev["transported"] & (ems_ev["destination"] == CITY_HOSPITAL)
    bp = ems_ev["person"][brought]
    arrive = ems_ev["time"][brought] + rng.integers(12 * 60, 45 * 60, size=len(bp)).astype("timedelta64[s]")
    person = np.concatenate([walk["person"], bp])
    time = np.concatenate([walk["time"], arrive])
    call = np.concatenate([walk_call, ems_ev["call_type"][brought]])
    by_ems = np.concatenate([np.zeros(wn, bool), np.ones(len(bp), bool)])
    keep = time <= _end_ts(pop)
    person, time, call, by_ems = person[keep], time[keep], call[keep], by_ems[keep]
    order = np.lexsort((person, time))
    person, time, call, by_ems = person[order], time[order], call[order], by_ems[order]
    n = len(person)

    dx = diagnoses()
    diag = np.empty(n, dtype=np.int64)
    for c in range(len(CALL_TYPES)):
        sel = np.flatnonzero(call == c)
        pool = np.flatnonzero(dx.category == (c if (dx.category == c).any() else MEDICAL))
        diag[sel] = pool[_pick(rng, dx.weight[pool], len(sel))]
    substance = dx.substance[diag] | (pop.substance[person] & (rng.random(n) < 0.35))
    disp_w = np.tile(np.array([74, 14, 3, 4, 4.5, 0.2, 0.3]), (n, 1))
    disp_w[call == PSYCHIATRIC, 2] += 25
    disp_w[call == OVERDOSE, 5] += 1.0
    age = pop.age_on(person, time.astype("datetime64[D]"))
    disp_w[age >= 70, 1] += 20
    disp = _choice_by(rng, disp_w)
    median_h = np.select([disp == 1, disp == 4], [6.0, 2.0], 4.0)
    stay = np.clip(rng.lognormal(np.log(median_h), 0.6) * HOUR, 15 * 60, 3 * DAY).astype(np.int64)
    depart = time + stay.astype("timedelta64[s]")
    depart = np.where(depart > _end_ts(pop), np.datetime64("NaT", "s"), depart)
    return {
        "person": person,
        "time": time,
        "call_type": call,
        "by_ems": by_ems,
        "diagnosis": diag,
        "substance": substance,
        "disposition": disp,
        "departure": depart,
    }


def shelter_stays(rng: np.random.Generator, pop: Population) -> Events:
    """Shelter and outreach enrolments of homeless people; open enrolments have no exit."""
    ev = draw_events(rng, pop, np.array([0.6, 0.8, 1.0, 2.0]), hours=DAYTIME, min_age=18, who=pop.homeless)
    n = len(ev["person"])
    shelter = _pick(rng, SHELTER_P, n)
    program = np.array([s[1] for s in SHELTERS])[shelter]
    days = np.maximum(1, rng.exponential(SHELTER_MEAN_DAYS[program]).astype(np.int64))
    entry = ev["time"].astype("datetime64[D]")
    exit_ = entry + days.astype("timedelta64[D]")
    still = exit_ > pop.end
    ev["entry"] = entry
    ev["exit"] = np.where(still, np.datetime64("NaT", "D"), exit_)
    ev["shelter"] = shelter
    ev["program"] = program
    # Exit destination group: permanent, temporary, institutional, other, unknown.
    ev["destination"] = np.where(still, -1, _pick(rng, np.array([0.12, 0.25, 0.08, 0.28, 0.27]), n))
    return ev


def chronic_share(pop: Population) -> float:
    """Share of people in the chronic class (for the README)."""
    return float((pop.uclass == CHRONIC).mean())
