"""How a source records a person: habits and the everyday errors real records carry.

Each department writes people down its own way: the jail checks ID and keeps accents,
EMS writes what a patient in distress says, police record the race an officer perceives.
A :class:`Profile` states those habits and error rates; :func:`record_people` applies
them to every record of a source at once (numpy, no loop per record) and counts what it
changed, so the manifest can report the realised error rates next to the intended ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa

from justicelab.synth.names import RACE_INDEX, UNKNOWN_RACE, NameBook
from justicelab.synth.people import (
    NONBINARY,
    UNKNOWN_SEX,
    Population,
    days_in_month,
    from_ymd,
    join_parts,
    whole_years,
    ymd,
)


@dataclass(frozen=True)
class Profile:
    """One source's recording habits; every rate is a probability per record."""

    #: Use the nickname the person goes by (when they have one).
    nickname_pref: float = 0.0
    #: Use some other common nickname of the given name.
    nickname_any: float = 0.0
    #: Record the alias instead of the true name (people who have an alias only).
    alias: float = 0.0
    typo_first: float = 0.0
    typo_last: float = 0.0
    #: Probability of writing the middle name in full, and as an initial; otherwise it is left out.
    middle_full: float = 0.6
    middle_initial: float = 0.25
    #: For two-part surnames: keep only the first part, change the separator, keep only the second.
    compound_first_only: float = 0.12
    compound_other_separator: float = 0.08
    compound_second_only: float = 0.03
    fold_accents: bool = False
    squash: bool = False
    #: First and last name entered the wrong way round.
    name_swap: float = 0.0
    dob_missing: float = 0.0
    dob_day_month_swap: float = 0.0
    dob_transposed_digits: float = 0.0
    dob_year_off: float = 0.0
    sex_unknown: float = 0.0
    nonbinary_supported: bool = True
    race_unknown: float = 0.0
    #: Race as perceived by an observer (Hispanic people recorded as White, and so on).
    race_observed: bool = False
    address_missing: float = 0.0
    #: An older address of someone who has moved.
    address_stale: float = 0.0
    address_transposed_digits: float = 0.0
    zip_transposed_digits: float = 0.0
    unit_dropped: float = 0.0
    #: A homeless person recorded with the source's no-fixed-address marker (else their last address).
    homeless_marker: float = 0.9

    def rates(self) -> dict[str, float | bool]:
        """The profile as a plain dict, for the manifest."""
        return asdict(self)


@dataclass
class Recorded:
    """A person as one source recorded them, for each of its records."""

    first: np.ndarray
    middle: np.ndarray
    last1: np.ndarray
    last2: np.ndarray
    last_sep: np.ndarray
    dob: np.ndarray
    sex: np.ndarray
    race: np.ndarray
    addr_num: np.ndarray
    addr_street: np.ndarray
    addr_unit: np.ndarray
    addr_zip: np.ndarray
    transient: np.ndarray
    age: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    def last_name(self, book: NameBook, separators: tuple[str, str] = (" ", "-")) -> pa.Array:
        sep = pa.array(np.where(self.last_sep == 1, separators[1], separators[0]))
        return join_parts([book.strings(self.last1), book.strings(self.last2)], sep)


def _swap_adjacent_digits(value: np.ndarray, choose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Swap two neighbouring digits of positive integers; returns new values and where it changed."""
    value = value.astype(np.int64)
    ndig = np.floor(np.log10(np.maximum(value, 1))).astype(np.int64) + 1
    j = np.minimum((choose * np.maximum(ndig - 1, 1)).astype(np.int64), np.maximum(ndig - 2, 0))
    hi = 10 ** np.maximum(ndig - 1 - j, 0)
    lo = 10 ** np.maximum(ndig - 2 - j, 0)
    d_hi = (value // hi) % 10
    d_lo = (value // lo) % 10
    new = value - d_hi * hi - d_lo * lo + d_lo * hi + d_hi * lo
    ok = (ndig >= 2) & (d_hi != d_lo) & ~((j == 0) & (d_lo == 0))
    return np.where(ok, new, value), ok


#: Observer-perceived race: (true race, recorded race, probability).
_OBSERVED_RACE = (
    ("hispanic", "white", 0.10),
    ("multiracial", "black", 0.35),
    ("multiracial", "white", 0.25),
    ("multiracial", "other", 0.10),
    ("american_indian", "white", 0.30),
    ("american_indian", "other", 0.15),
    ("pacific_islander", "asian", 0.30),
)


def record_people(
    pop: Population,
    book: NameBook,
    person: np.ndarray,
    day: np.ndarray,
    profile: Profile,
    rng: np.random.Generator,
) -> Recorded:
    """Record ``person[i]`` as seen on ``day[i]`` under ``profile``."""
    m = len(person)
    counts: dict[str, int] = {}

    def chance(rate: float) -> np.ndarray:
        return rng.random(m) < rate

    def note(name: str, mask: np.ndarray) -> None:
        counts[name] = counts.get(name, 0) + int(mask.sum())

    # Which identity: the true one or an alias.
    use_alias = (pop.alias_first[person] >= 0) & chance(profile.alias)
    note("alias", use_alias)
    first = np.where(use_alias, pop.alias_first[person], pop.first[person])
    alias_last = pop.alias_last[person]
    new_last = use_alias & (alias_last >= 0)
    last1 = np.where(new_last, alias_last, pop.last1[person])
    last2 = np.where(new_last, -1, pop.last2[person])
    sep = pop.last_sep[person].copy()
    true_dob = pop.dob[person]
    dob = np.where(use_alias, pop.alias_dob[person], true_dob)

    # Given name: nickname, then typo.
    pref = pop.pref_nick[person]
    use_pref = ~use_alias & (pref >= 0) & chance(profile.nickname_pref)
    base = book.ascii_of[first]
    n_nick = book.nick_count[base]
    pick = np.minimum((rng.random(m) * np.maximum(n_nick, 1)).astype(np.int64), np.maximum(n_nick - 1, 0))
    use_any = ~use_pref & (n_nick > 0) & chance(profile.nickname_any)
    first = np.where(use_pref, pref, np.where(use_any, book.nick[base, pick], first))
    note("nickname", use_pref | use_any)
    typo_f = chance(profile.typo_first)
    first = np.where(typo_f, book.typo[first, rng.integers(0, book.typo.shape[1], m)], first)
    note("typo_first_name", typo_f)

    # Middle name: full, initial or left out.
    middle = pop.middle[person].copy()
    u = rng.random(m)
    initial = (middle >= 0) & (u >= profile.middle_full) & (u < profile.middle_full + profile.middle_initial)
    middle = np.where(initial, book.initial_of[np.maximum(middle, 0)], middle)
    middle[u >= profile.middle_full + profile.middle_initial] = -1

    # Surname: two-part surnames recorded in part or with another separator, then typo.
    two = last2 >= 0
    u = rng.random(m)
    a = profile.compound_first_only
    b = a + profile.compound_other_separator
    c = b + profile.compound_second_only
    first_only = two & (u < a)
    other_sep = two & (u >= a) & (u < b)
    second_only = two & (u >= b) & (u < c)
    last1 = np.where(second_only, last2, last1)
    last2 = np.where(first_only | second_only, -1, last2)
    sep = np.where(other_sep, 1 - sep, sep).astype(np.int8)
    note("compound_surname_changed", first_only | other_sep | second_only)
    typo_l = chance(profile.typo_last)
    last1 = np.where(typo_l, book.typo[last1, rng.integers(0, book.typo.shape[1], m)], last1)
    note("typo_last_name", typo_l)

    def spell(idx: np.ndarray) -> np.ndarray:
        out = idx
        if profile.fold_accents:
            out = np.where(out >= 0, book.ascii_of[np.maximum(out, 0)], out)
        if profile.squash:
            out = np.where(out >= 0, book.squash_of[np.maximum(out, 0)], out)
        return out

    first, middle, last1, last2 = spell(first), spell(middle), spell(last1), spell(last2)
    swap = chance(profile.name_swap)
    note("first_last_swapped", swap)
    first, last1 = np.where(swap, last1, first), np.where(swap, first, last1)
    last2 = np.where(swap, -1, last2)

    # Date of birth: day and month swapped, digits transposed, a year off, or left out.
    y, mo, d = ymd(dob)
    valid = ~np.isnat(dob)
    u = rng.random(m)
    t1 = profile.dob_missing
    t2 = t1 + profile.dob_day_month_swap
    t3 = t2 + profile.dob_transposed_digits
    t4 = t3 + profile.dob_year_off
    event_year = ymd(day)[0]
    swap_dm = valid & (u >= t1) & (u < t2) & (d <= 12) & (d != mo)
    trans = valid & (u >= t2) & (u < t3)
    yy = y % 100
    yy_t = (yy % 10) * 10 + yy // 10
    y_t = y - yy + yy_t
    year_ok = trans & (yy // 10 != yy % 10) & (y_t <= event_year - 14) & (y_t >= 1905)
    d_t = (d % 10) * 10 + d // 10
    day_ok = trans & ~year_ok & (d >= 10) & (d // 10 != d % 10) & (d_t <= days_in_month(y, mo))
    off = valid & (u >= t3) & (u < t4)
    y_off = y + np.where(rng.random(m) < 0.5, -1, 1)
    new_y = np.where(year_ok, y_t, np.where(off, y_off, y))
    new_m = np.where(swap_dm, d, mo)
    new_d = np.where(swap_dm, mo, np.where(day_ok, d_t, d))
    new_d = np.minimum(new_d, days_in_month(new_y, new_m))
    changed = swap_dm | year_ok | day_ok | off
    dob = np.where(changed, from_ymd(new_y, new_m, new_d), dob)
    missing = u < t1
    dob = np.where(missing, np.datetime64("NaT", "D"), dob)
    note("dob_missing", missing & valid)
    note("dob_day_month_swapped", swap_dm)
    note("dob_digits_transposed", year_ok | day_ok)
    note("dob_year_off", off)

    # Sex and race.
    sex = pop.sex[person].copy()
    if not profile.nonbinary_supported:
        sex[sex == NONBINARY] = UNKNOWN_SEX
    unknown_sex = chance(profile.sex_unknown)
    sex[unknown_sex] = UNKNOWN_SEX
    note("sex_unknown", unknown_sex)
    race = pop.race[person].copy()
    if profile.race_observed:
        u = rng.random(m)
        true_race = race.copy()
        done = np.zeros(m, dtype=bool)
        lo = np.zeros(m)
        for src, dst, p in _OBSERVED_RACE:
            sel = (true_race == RACE_INDEX[src]) & ~done
            hit = sel & (u >= lo) & (u < lo + p)
            race[hit] = RACE_INDEX[dst]
            done |= hit
            lo = np.where(true_race == RACE_INDEX[src], lo + p, lo)
        note("race_misperceived", done)
    unknown_race = chance(profile.race_unknown)
    race[unknown_race] = UNKNOWN_RACE
    note("race_unknown", unknown_race)

    # Address: the one current on the day (or an older one), markers for the homeless, errors.
    slot = pop.address_slot(person, day)
    stale = (slot > 0) & chance(profile.address_stale)
    slot = np.where(stale, slot - 1, slot)
    note("address_stale", stale)
    rows = np.arange(m)
    num = pop.addr_num[person][rows, slot].astype(np.int64)
    street = pop.addr_street[person][rows, slot].astype(np.int32)
    unit = pop.addr_unit[person][rows, slot].astype(np.int32)
    zipc = pop.addr_zip[person][rows, slot].astype(np.int64)
    transient = pop.homeless[person] & chance(profile.homeless_marker)
    gone = chance(profile.address_missing) | transient
    note("address_missing", gone & ~transient)
    num, moved = _swap_adjacent_digits(num, rng.random(m))
    num_err = moved & chance(profile.address_transposed_digits)
    num = np.where(num_err, num, pop.addr_num[person][rows, slot])
    note("address_digits_transposed", num_err & ~gone)
    z_new, z_ok = _swap_adjacent_digits(zipc % 100, np.zeros(m))
    zip_err = z_ok & chance(profile.zip_transposed_digits)
    zipc = np.where(zip_err, zipc - zipc % 100 + z_new, zipc)
    note("zip_digits_transposed", zip_err & ~gone)
    dropped = (unit > 0) & chance(profile.unit_dropped)
    unit = np.where(dropped, 0, unit)
    note("unit_dropped", dropped & ~gone)
    num = np.where(gone, -1, num)
    street = np.where(gone, -1, street)
    unit = np.where(gone, 0, unit)
    zipc = np.where(gone, -1, zipc)
    note("homeless_marker", transient)

    return Recorded(
        first=first.astype(np.int32),
        middle=middle.astype(np.int32),
        last1=last1.astype(np.int32),
        last2=last2.astype(np.int32),
        last_sep=sep,
        dob=dob.astype("datetime64[D]"),
        sex=sex,
        race=race,
        addr_num=num,
        addr_street=street,
        addr_unit=unit,
        addr_zip=zipc,
        transient=transient,
        age=whole_years(true_dob, day),
        counts=counts,
    )
