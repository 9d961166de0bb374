"""The synthetic city's residents: households, names, birth dates, addresses and risk.

People are generated household by household (all vectorised): a head, maybe a partner,
children who share the head's surname and address, sometimes twins (same birth date,
different first names) and juniors (a son with his father's first name). Each household
may move once or twice during the study window. A latent *utilizer class* drives how
often a person meets police, jail, EMS, the ED and shelters, which gives the heavy tail
of contacts the city's high-frequency-utilizer programme is about.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from justicelab.synth.names import DATA_DIR, RACE_INDEX, RACE_NAME_MIX, RACES, NameBook

CITY = "ALDER BAY"

#: Latent utilizer classes, from no contact expected to chronic high-frequency utilizer.
CLASSES: tuple[str, ...] = ("none", "occasional", "repeat", "chronic")
NONE, OCCASIONAL, REPEAT, CHRONIC = range(4)

SEXES: tuple[str, ...] = ("M", "F", "X", "U")
MALE, FEMALE, NONBINARY, UNKNOWN_SEX = range(4)

HEAD, PARTNER, CHILD = range(3)

#: Share of households by size 1..6.
HOUSEHOLD_SIZES = np.array([0.28, 0.33, 0.15, 0.13, 0.07, 0.04])
#: Race/ethnicity of households in the city (a diverse West-coast city), in RACES order.
CITY_RACE_P = np.array([0.36, 0.32, 0.11, 0.15, 0.006, 0.007, 0.035, 0.012])
CITY_RACE_P = CITY_RACE_P / CITY_RACE_P.sum()

FAR_FUTURE = np.datetime64("2999-12-31", "D")
DAYS_PER_YEAR = 365.2425


@dataclass(frozen=True)
class Streets:
    """The fictional city's streets, each with the ZIP codes of its low and high numbers."""

    names: tuple[str, ...]
    zip_low: np.ndarray
    zip_high: np.ndarray
    prob: np.ndarray
    downtown: np.ndarray

    @cached_property
    def arrow(self) -> pa.Array:
        return pa.array(self.names, type=pa.string())

    def zip_for(self, street: np.ndarray, number: np.ndarray) -> np.ndarray:
        return np.where(number < 4000, self.zip_low[street], self.zip_high[street])


def load_streets() -> Streets:
    """Read ``data/streets.csv``."""
    with (DATA_DIR / "streets.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    weight = np.array([float(r["weight"]) for r in rows])
    return Streets(
        names=tuple(r["street"] for r in rows),
        zip_low=np.array([int(r["zip_low"]) for r in rows], dtype=np.int32),
        zip_high=np.array([int(r["zip_high"]) for r in rows], dtype=np.int32),
        prob=weight / weight.sum(),
        downtown=np.array([r["downtown"] == "1" for r in rows]),
    )


@dataclass
class Population:
    """Everyone in the city, one array element per person (index = person number)."""

    start: np.datetime64
    end: np.datetime64
    household: np.ndarray
    role: np.ndarray
    sex: np.ndarray
    race: np.ndarray
    dob: np.ndarray
    first: np.ndarray
    middle: np.ndarray
    last1: np.ndarray
    last2: np.ndarray
    last_sep: np.ndarray
    pref_nick: np.ndarray
    twin: np.ndarray
    junior: np.ndarray
    # Address history: up to three addresses, the household moving on move_at[:, 0] and [:, 1].
    addr_street: np.ndarray
    addr_num: np.ndarray
    addr_unit: np.ndarray
    addr_zip: np.ndarray
    move_at: np.ndarray
    uclass: np.ndarray
    homeless: np.ndarray
    substance: np.ndarray
    psych: np.ndarray
    frailty: np.ndarray
    alias_first: np.ndarray
    alias_last: np.ndarray
    alias_dob: np.ndarray

    @property
    def n(self) -> int:
        return len(self.sex)

    def person_ids(self, idx: np.ndarray | None = None) -> pa.Array:
        """True person ids (``P0000001``...) for person numbers (all people when ``idx`` is None)."""
        idx = np.arange(self.n) if idx is None else np.asarray(idx)
        width = max(7, len(str(self.n)))
        digits = pc.utf8_lpad(pc.cast(pa.array(idx + 1), pa.string()), width=width, padding="0")
        return pc.binary_join_element_wise("P", digits, "")

    def address_slot(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Which of the person's addresses was current on ``day`` (0, 1 or 2)."""
        moves = self.move_at[person]
        return (day >= moves[:, 0]).astype(np.int8) + (day >= moves[:, 1]).astype(np.int8)

    def age_on(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Age in whole years on ``day`` (calendar arithmetic, not days / 365)."""
        return whole_years(self.dob[person], day)


def whole_years(born: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Completed years between two date arrays."""
    by, bm, bd = ymd(born)
    ey, em, ed = ymd(day)
    before = (em < bm) | ((em == bm) & (ed < bd))
    return (ey - by - before).astype(np.int32)


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day numbers of a datetime64[D] array."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    year = y.astype(np.int64) + 1970
    month = (m - y.astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def from_ymd(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """datetime64[D] from year, month, day arrays (the day must exist in that month)."""
    months = (np.asarray(year) - 1970) * 12 + (np.asarray(month) - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]") + (np.asarray(day) - 1)


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    first = from_ymd(year, month, np.ones_like(month))
    nxt = (first.astype("datetime64[M]") + 1).astype("datetime64[D]")
    return (nxt - first).astype(np.int64)


def window(end_date: dt.date, years: int) -> tuple[np.datetime64, np.datetime64]:
    """First and last day of a study window of ``years`` years ending on ``end_date``."""
    try:
        first = end_date.replace(year=end_date.year - years)
    except ValueError:  # 29 February
        first = end_date.replace(year=end_date.year - years, day=28)
    return np.datetime64(first + dt.timedelta(days=1), "D"), np.datetime64(end_date, "D")


def _draw_names(
    rng: np.random.Generator,
    book: NameBook,
    name_sex: np.ndarray,
    race: np.ndarray,
    *,
    first: bool,
) -> np.ndarray:
    out = np.empty(len(race), dtype=np.int32)
    for r, race_name in enumerate(RACES):
        if race_name not in RACE_NAME_MIX:
            continue
        if first:
            for s, sex_name in ((MALE, "M"), (FEMALE, "F")):
                sel = np.flatnonzero((race == r) & (name_sex == s))
                if len(sel):
                    out[sel] = book.first[(sex_name, race_name)].draw(rng, len(sel))
        else:
            sel = np.flatnonzero(race == r)
            if len(sel):
                out[sel] = book.last[race_name].draw(rng, len(sel))
    return out


def generate_people(
    n: int,
    *,
    start: np.datetime64,
    end: np.datetime64,
    rng: np.random.Generator,
    book: NameBook,
    streets: Streets,
) -> Population:
    """Draw ``n`` residents in households; see the module docstring for the model."""
    # Households and the position of each person in theirs.
    sizes = rng.choice(np.arange(1, 7), size=n // 2 + 8, p=HOUSEHOLD_SIZES)
    cum = np.cumsum(sizes)
    h_count = int(np.searchsorted(cum, n)) + 1
    sizes = sizes[:h_count].copy()
    sizes[-1] -= int(cum[h_count - 1] - n)
    starts = np.cumsum(sizes) - sizes
    hh = np.repeat(np.arange(h_count, dtype=np.int32), sizes)
    pos = np.arange(n) - starts[hh]
    partner_h = (sizes >= 2) & (rng.random(h_count) < 0.75)
    kids_h = sizes - 1 - partner_h
    role = np.full(n, CHILD, dtype=np.int8)
    role[pos == 0] = HEAD
    role[(pos == 1) & partner_h[hh]] = PARTNER
    is_partner, is_child = role == PARTNER, role == CHILD

    # Ages: heads of families 22-58, other heads across adult life, partners near the head.
    u = rng.random(h_count)
    single_age = np.where(
        u < 0.5,
        18 + 27 * rng.random(h_count),
        np.where(u < 0.82, 45 + 25 * rng.random(h_count), 70 + 22 * rng.random(h_count)),
    )
    head_age = np.where(kids_h > 0, 24 + 38 * rng.random(h_count), single_age)
    age = head_age[hh].copy()
    age[is_partner] = np.clip(age[is_partner] + rng.normal(0, 4, is_partner.sum()), 18, 96)
    # Children are mostly minors; some are grown and still live at home.
    room = np.maximum(head_age[hh[is_child]] - 18, 1)
    grown = (rng.random(is_child.sum()) < 0.3) & (room > 19)
    age[is_child] = np.where(
        grown,
        18 + rng.random(is_child.sum()) * (np.minimum(room, 40) - 18),
        rng.random(is_child.sum()) * np.minimum(room, 18),
    )
    dob = end - np.floor(age * DAYS_PER_YEAR).astype("timedelta64[D]")

    # Twins: the first two children of a few families share a birth date.
    first_child = starts + 1 + partner_h
    twin_h = np.flatnonzero((kids_h >= 2) & (rng.random(h_count) < 0.03))
    twin = np.zeros(n, dtype=bool)
    t1, t2 = first_child[twin_h], first_child[twin_h] + 1
    dob[t2] = dob[t1]
    twin[t1] = twin[t2] = True

    # Sex: partners mostly of the other sex; a few adults record a non-binary sex.
    sex = (rng.random(n) < 0.5).astype(np.int8)
    head_sex = sex[starts]
    flip = rng.random(n) < 0.95
    sex[is_partner] = np.where(flip[is_partner], 1 - head_sex[hh[is_partner]], head_sex[hh[is_partner]])
    sex[is_child] = (rng.random(is_child.sum()) >= 0.51).astype(np.int8)
    name_sex = sex.copy()
    adult_age = age >= 16
    sex[adult_age & (rng.random(n) < 0.003)] = NONBINARY

    # Race/ethnicity: households share one, mixed couples have some multiracial children.
    hh_race = rng.choice(len(CITY_RACE_P), size=h_count, p=CITY_RACE_P).astype(np.int8)
    partner_race = np.where(
        rng.random(h_count) < 0.1, rng.choice(len(CITY_RACE_P), size=h_count, p=CITY_RACE_P), hh_race
    ).astype(np.int8)
    race = hh_race[hh].copy()
    race[is_partner] = partner_race[hh[is_partner]]
    mixed_child = is_child & partner_h[hh] & (partner_race[hh] != hh_race[hh])
    v = rng.random(n)
    race[mixed_child & (v < 0.5)] = RACE_INDEX["multiracial"]
    take_partner = mixed_child & (v >= 0.75)
    race[take_partner] = partner_race[hh[take_partner]]

    # Given and middle names.
    first = _draw_names(rng, book, name_sex, race, first=True)
    middle = _draw_names(rng, book, name_sex, race, first=True)
    has_middle = rng.random(n) < np.where(race == RACE_INDEX["asian"], 0.45, 0.75)
    middle[~has_middle | (middle == first)] = -1
    junior = is_child & (name_sex == MALE) & (head_sex[hh] == MALE) & (rng.random(n) < 0.07) & ~twin
    first[junior] = first[starts[hh[junior]]]
    for _ in range(20):  # twins get different first names
        same = t2[first[t2] == first[t1]]
        if len(same) == 0:
            break
        first[same] = _draw_names(rng, book, name_sex[same], race[same], first=True)

    # Surnames: heads draw theirs (some Hispanic heads carry two), partners share or keep theirs,
    # children take the head's, sometimes with the partner's as a second surname.
    hispanic = RACE_INDEX["hispanic"]
    hl1 = _draw_names(rng, book, np.zeros(h_count, np.int8), hh_race, first=False)
    hl2 = np.where(
        (hh_race == hispanic) & (rng.random(h_count) < 0.12),
        book.last["hispanic"].draw(rng, h_count),
        -1,
    ).astype(np.int32)
    hsep = (rng.random(h_count) < 0.2).astype(np.int8)
    pl1 = _draw_names(rng, book, np.zeros(h_count, np.int8), partner_race, first=False)
    share = rng.random(h_count) < np.where(partner_race == hispanic, 0.35, 0.6)
    last1, last2, sep = hl1[hh].copy(), hl2[hh].copy(), hsep[hh].copy()
    own = is_partner & ~share[hh]
    last1[own] = pl1[hh[own]]
    last2[own] = -1
    hyph = own & (sex == FEMALE) & (partner_race[hh] != hispanic) & (rng.random(n) < 0.15)
    last2[hyph] = hl1[hh[hyph]]
    sep[hyph] = 1
    double_h = (
        partner_h
        & (hh_race == hispanic)
        & (partner_race == hispanic)
        & (hl2 < 0)
        & ~share
        & (rng.random(h_count) < 0.3)
    )
    dbl = is_child & double_h[hh]
    last2[dbl] = pl1[hh[dbl]]
    sep[dbl] = 0

    base = book.ascii_of[first]
    n_nick = book.nick_count[base]
    pick = np.minimum((rng.random(n) * np.maximum(n_nick, 1)).astype(np.int64), np.maximum(n_nick - 1, 0))
    pref_nick = np.where((n_nick > 0) & (rng.random(n) < 0.35), book.nick[base, pick], -1).astype(np.int32)

    # Address history per household.
    span = int((end - start).astype(np.int64)) + 1
    moves = rng.choice(3, size=h_count, p=[0.6, 0.3, 0.1])
    move_days = np.sort(rng.integers(0, span, size=(h_count, 2)), axis=1)
    move_at = start + move_days.astype("timedelta64[D]")
    move_at[moves < 1, 0] = FAR_FUTURE
    move_at[moves < 2, 1] = FAR_FUTURE
    street = rng.choice(len(streets.names), size=(h_count, 3), p=streets.prob).astype(np.int16)
    number = (rng.integers(1, 80, size=(h_count, 3)) * 100 + rng.integers(0, 100, size=(h_count, 3))).astype(np.int32)
    unit = np.where(rng.random((h_count, 3)) < 0.35, rng.integers(1, 41, size=(h_count, 3)), 0).astype(np.int16)
    zipcode = streets.zip_for(street, number).astype(np.int32)

    # Utilizer class: mostly adult men, singles more often; then what follows from it.
    age_end = whole_years(dob, np.full(n, end))
    adult = (age_end >= 18) & (age_end < 66)
    elder = (age_end >= 66) & (age_end < 85)
    teen = (age_end >= 14) & (age_end < 18)
    male = sex == MALE
    single = sizes[hh] == 1
    p_chronic = np.where(adult, np.where(male, 0.008, 0.003), np.where(elder, 0.001, 0.0)) * np.where(single, 2.0, 1.0)
    p_repeat = np.where(adult, np.where(male, 0.035, 0.012), np.where(elder, 0.004, 0.0)) * np.where(single, 1.5, 1.0)
    p_occ = np.where(adult, np.where(male, 0.12, 0.06), np.where(elder, 0.03, np.where(teen, 0.04, 0.0)))
    w = rng.random(n)
    uclass = np.full(n, NONE, dtype=np.int8)
    uclass[w < p_chronic + p_repeat + p_occ] = OCCASIONAL
    uclass[w < p_chronic + p_repeat] = REPEAT
    uclass[w < p_chronic] = CHRONIC
    if n >= 200 and not (uclass == CHRONIC).any() and adult.any():
        cand = np.flatnonzero(adult)
        uclass[cand[np.argmin(w[cand])]] = CHRONIC

    grown_up = age_end >= 18
    homeless = grown_up & (rng.random(n) < np.array([0.0015, 0.025, 0.15, 0.65])[uclass])
    substance = grown_up & (rng.random(n) < np.array([0.04, 0.15, 0.45, 0.8])[uclass])
    psych = rng.random(n) < np.array([0.04, 0.08, 0.2, 0.45])[uclass]
    shape = np.array([1.5, 2.0, 3.0, 4.0])[uclass]
    frailty = rng.gamma(shape, 1.0 / shape)

    # Aliases: another name (and sometimes birth date) some people give.
    has_alias = rng.random(n) < np.array([0.003, 0.03, 0.12, 0.3])[uclass]
    alias_first = np.where(has_alias, _draw_names(rng, book, name_sex, race, first=True), -1).astype(np.int32)
    alias_first[has_alias & (alias_first == first)] = -1
    has_alias &= alias_first >= 0
    alias_last = np.where(
        has_alias & (rng.random(n) < 0.5), _draw_names(rng, book, name_sex, race, first=False), -1
    ).astype(np.int32)
    a = rng.random(n)
    shift = np.where(a < 0.5, 0, np.where(a < 0.75, rng.choice([-365, 365], size=n), rng.integers(-40, 41, size=n)))
    alias_dob = np.where(has_alias, dob + shift.astype("timedelta64[D]"), np.datetime64("NaT", "D"))

    return Population(
        start=start,
        end=end,
        household=hh,
        role=role,
        sex=sex,
        race=race,
        dob=dob,
        first=first,
        middle=middle,
        last1=last1,
        last2=last2,
        last_sep=sep,
        pref_nick=pref_nick,
        twin=twin,
        junior=junior,
        addr_street=street[hh],
        addr_num=number[hh],
        addr_unit=unit[hh],
        addr_zip=zipcode[hh],
        move_at=move_at[hh],
        uclass=uclass,
        homeless=homeless,
        substance=substance,
        psych=psych,
        frailty=frailty,
        alias_first=alias_first,
        alias_last=alias_last,
        alias_dob=alias_dob,
    )


def join_parts(parts: list[pa.Array], sep: str | pa.Array = " ") -> pa.Array:
    """Join string arrays element-wise, skipping nulls; null where every part is null.

    (pyarrow's own ``null_handling="skip"`` drops rows whose parts are all null, so it is not used.)
    """
    out = parts[0]
    for part in parts[1:]:
        joined = pc.binary_join_element_wise(out, part, sep)
        out = pc.if_else(pc.is_null(part), out, pc.if_else(pc.is_null(out), part, joined))
    return out


def format_address(
    streets: Streets,
    number: np.ndarray,
    street: np.ndarray,
    unit: np.ndarray,
    unit_prefix: str = "APT ",
) -> pa.Array:
    """House number, street and unit as one string ("1420 W OAK ST APT 4"); null where street < 0."""
    missing = street < 0
    num_s = pc.cast(pa.array(number, mask=missing), pa.string())
    street_s = pc.take(streets.arrow, pa.array(street.astype(np.int32), mask=missing))
    unit_s = pc.binary_join_element_wise(
        unit_prefix, pc.cast(pa.array(unit, mask=(unit <= 0) | missing), pa.string()), ""
    )
    return join_parts([num_s, street_s, unit_s])


def people_table(pop: Population, book: NameBook, streets: Streets) -> pa.Table:
    """The true identities, as written to ``answer_key/people.csv``."""
    sep = pa.array(np.where(pop.last_sep == 1, "-", " "))
    last = join_parts([book.strings(pop.last1), book.strings(pop.last2)], sep)
    cols: dict[str, pa.Array] = {
        "person_id": pop.person_ids(),
        "household_id": pc.binary_join_element_wise(
            "H", pc.utf8_lpad(pc.cast(pa.array(pop.household + 1), pa.string()), width=7, padding="0"), ""
        ),
        "household_role": pa.array(np.array(["head", "partner", "child"])[pop.role]),
        "first_name": book.strings(pop.first),
        "middle_name": book.strings(pop.middle),
        "last_name": last,
        "sex": pa.array(np.array(SEXES)[pop.sex]),
        "date_of_birth": pa.array(pop.dob),
        "race_ethnicity": pa.array(np.array(RACES)[pop.race]),
    }
    for k in range(3):
        has = np.ones(pop.n, bool) if k == 0 else pop.move_at[:, k - 1] < FAR_FUTURE
        street = np.where(has, pop.addr_street[:, k], -1)
        suffix = "" if k == 0 else f"_{k + 1}"
        if k:
            cols[f"moved_on{suffix}"] = pa.array(pop.move_at[:, k - 1], mask=~has)
        cols[f"address{suffix}"] = format_address(streets, pop.addr_num[:, k], street, pop.addr_unit[:, k])
        cols[f"zip{suffix}"] = pc.cast(pa.array(pop.addr_zip[:, k], mask=~has), pa.string())
    cols["city"] = pa.array(np.full(pop.n, CITY))
    cols.update(
        {
            "homeless": pa.array(pop.homeless),
            "utilizer_class": pa.array(np.array(CLASSES)[pop.uclass]),
            "substance_use": pa.array(pop.substance),
            "mental_illness": pa.array(pop.psych),
            "twin": pa.array(pop.twin),
            "junior": pa.array(pop.junior),
            "preferred_name": book.strings(pop.pref_nick),
            "alias_first_name": book.strings(pop.alias_first),
            "alias_last_name": book.strings(pop.alias_last),
            "alias_date_of_birth": pa.array(pop.alias_dob),
        }
    )
    return pa.table(cols)
