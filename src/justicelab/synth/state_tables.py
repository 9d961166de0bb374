"""Fixed parameters of the synthetic state: offence mixes, clearance rates, code tables, name parts.

The figures are rounded from California's published statewide totals (DOJ Crimes and Clearances,
DOF E-4) so that the synthetic state looks plausible at any scale; nothing here is per-agency real
data. Everything is plain Python data, read by the generator modules.
"""

from __future__ import annotations

from dataclasses import dataclass

# County population at the 2020 census (DOF E-4), rounded to hundreds: only the relative sizes are used.
COUNTY_POPULATION_2020: dict[str, int] = {
    "alameda": 1682400, "alpine": 1200, "amador": 40500, "butte": 211600, "calaveras": 45300,
    "colusa": 21800, "contra_costa": 1165900, "del_norte": 27700, "el_dorado": 191200, "fresno": 1008700,
    "glenn": 28900, "humboldt": 136500, "imperial": 179700, "inyo": 19000, "kern": 909200,
    "kings": 152500, "lake": 68200, "lassen": 32700, "los_angeles": 10014000, "madera": 156300,
    "marin": 262300, "mariposa": 17100, "mendocino": 91600, "merced": 281200, "modoc": 8700,
    "mono": 13200, "monterey": 439000, "napa": 138000, "nevada": 102200, "orange": 3187000,
    "placer": 404700, "plumas": 19800, "riverside": 2418200, "sacramento": 1585100, "san_benito": 64200,
    "san_bernardino": 2181700, "san_diego": 3298600, "san_francisco": 874000, "san_joaquin": 779200,
    "san_luis_obispo": 282400, "san_mateo": 764400, "santa_barbara": 448200, "santa_clara": 1936300,
    "santa_cruz": 270900, "shasta": 182200, "sierra": 3200, "siskiyou": 44100, "solano": 453500,
    "sonoma": 488900, "stanislaus": 552900, "sutter": 99600, "tehama": 65800, "trinity": 16100,
    "tulare": 473100, "tuolumne": 55600, "ventura": 843800, "yolo": 216400, "yuba": 81600,
}

# Reported crimes (incl. arson) per 100,000 residents per year: sets the default state population.
CRIMES_PER_100K = 2850.0

# ---------------------------------------------------------------------------------------------
# Offences (the eight Crimes and Clearances offences, in the order of the standard's code list)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offense:
    code: str  # standard crime_offense code
    nibrs: str  # NIBRS offense code as the synthetic records system writes it
    klass: str  # V/P/A as the source writes the category (violent, property, arson)
    share: float  # share of all reported crimes
    clearance: float  # share cleared (by arrest or exceptionally)
    by_arrest: float  # share of clearances that are by arrest
    same_day_clear: float  # share of clearances on the day the crime is reported
    clear_lag_mu: float  # log-days of the other clearances (lognormal)
    same_day_report: float  # share reported on the day it happened
    report_lag_mu: float  # log-days of late reports (lognormal)
    report_lag_sigma: float
    slope: float  # yearly log-trend
    clear_slope: float  # yearly logit-trend of the clearance rate
    p_night: float  # share at night (18:00-05:59) when the time is known
    p_time_unknown: float
    arrestees: float  # mean number of extra people arrested per incident cleared by arrest


OFFENSES: tuple[Offense, ...] = (
    Offense("homicide", "09A", "V", 0.0016, 0.62, 0.86, 0.15, 3.0, 0.85, 0.5, 1.0, 0.02, -0.01, 0.65, 0.03, 0.3),
    Offense("rape", "11A", "V", 0.0125, 0.36, 0.62, 0.10, 3.4, 0.45, 2.5, 1.8, 0.03, -0.06, 0.55, 0.10, 0.05),
    Offense("robbery", "120", "V", 0.0470, 0.30, 0.90, 0.35, 2.3, 0.85, 0.3, 0.9, -0.01, 0.0, 0.55, 0.03, 0.35),
    Offense("aggravated_assault", "13A", "V", 0.0950, 0.53, 0.82, 0.45, 1.8, 0.80, 0.4, 1.0, 0.035, -0.015,
            0.55, 0.03, 0.15),
    Offense("burglary", "220", "P", 0.1360, 0.115, 0.88, 0.25, 2.6, 0.55, 0.8, 1.0, -0.05, -0.01, 0.5, 0.31, 0.2),
    Offense("motor_vehicle_theft", "240", "P", 0.1260, 0.09, 0.86, 0.30, 2.2, 0.55, 0.7, 1.0, 0.0, -0.02, 0.6,
            0.30, 0.15),
    Offense("larceny_theft", "23H", "P", 0.5740, 0.11, 0.92, 0.55, 1.6, 0.50, 1.0, 1.2, -0.01, -0.08, 0.35,
            0.18, 0.08),
    Offense("arson", "200", "A", 0.0079, 0.19, 0.75, 0.10, 3.0, 0.60, 0.8, 1.0, 0.03, 0.02, 0.6, 0.15, 0.1),
)
OFFENSE_INDEX = {o.code: i for i, o in enumerate(OFFENSES)}
HOM, RAPE, ROB, AGG, BURG, MVT, LARC, ARSON = range(8)
CATEGORY_BY_CLASS = {"V": "violent", "P": "property", "A": "arson"}

# Multipliers for the pandemic years, applied when the range covers them.
YEAR_SHOCKS: dict[int, tuple[float, ...]] = {
    2020: (1.30, 0.90, 0.86, 1.08, 0.96, 1.20, 0.84, 1.40),
    2021: (1.38, 0.98, 0.84, 1.16, 0.90, 1.28, 0.86, 1.35),
    2022: (1.28, 0.98, 0.92, 1.20, 0.95, 1.28, 0.92, 1.15),
}
# DOJ counts rape under the broader revised definition from 2014 on.
RAPE_REVISED_FROM = 2014
RAPE_REVISED_FACTOR = 1.35

# Offence-mix tilt by agency type (multiplies the base share).
TYPE_MIX_TILT: dict[str, tuple[float, ...]] = {
    "police": (1.0,) * 8,
    "sheriff": (1.1, 1.1, 0.7, 1.1, 1.2, 0.9, 0.9, 1.6),
    "highway_patrol": (0.5, 0.1, 0.6, 1.2, 0.1, 6.0, 1.0, 1.5),
    "university": (0.05, 1.0, 0.5, 0.4, 1.2, 0.3, 1.6, 0.5),
    "school": (0.05, 0.5, 0.8, 1.0, 1.5, 0.2, 1.4, 2.0),
    "transit": (0.2, 0.3, 3.0, 1.6, 0.2, 0.3, 1.2, 0.3),
    "park": (0.3, 0.5, 0.8, 1.0, 0.6, 1.0, 1.4, 3.0),
    "state": (0.2, 0.5, 0.5, 2.0, 0.5, 0.5, 1.2, 1.0),
}
# Crime exposure of agencies without a resident population, as a share of their county's population.
TYPE_EXPOSURE: dict[str, float] = {
    "highway_patrol": 0.004, "university": 0.006, "school": 0.003, "transit": 0.008,
    "park": 0.0015, "state": 0.001,
}
# Agency mix of the agencies beyond one sheriff per county (the rest are city police).
TYPE_SHARES: tuple[tuple[str, float], ...] = (
    ("highway_patrol", 0.08), ("university", 0.07), ("transit", 0.025), ("park", 0.02),
    ("school", 0.02), ("state", 0.015),
)
# How the source system abbreviates agency types (the mapping translates them).
AGENCY_TYPE_SOURCE = {
    "police": "PD", "sheriff": "SO", "highway_patrol": "CHP", "university": "UNIV", "school": "SCHOOL",
    "transit": "TRANSIT", "park": "PARK", "state": "STATE",
}

# ---------------------------------------------------------------------------------------------
# Locations (NIBRS location codes as the source writes them, and the standard's location_type)
# ---------------------------------------------------------------------------------------------
LOCATIONS: tuple[tuple[str, str], ...] = (
    ("01", "air_bus_train_terminal"), ("02", "bank"), ("03", "bar_nightclub"), ("04", "church"),
    ("05", "commercial_office"), ("06", "construction_site"), ("07", "convenience_store"),
    ("08", "department_store"), ("09", "drug_store_medical"), ("10", "field_woods"),
    ("11", "government_building"), ("12", "grocery_store"), ("13", "street"), ("14", "hotel_motel"),
    ("15", "jail_prison"), ("16", "lake_waterway"), ("17", "liquor_store"), ("18", "parking_lot"),
    ("19", "rental_storage"), ("20", "residence"), ("21", "restaurant"), ("22", "school_college"),
    ("23", "gas_station"), ("24", "specialty_store"), ("25", "other_unknown"),
)
LOC_CODES = tuple(code for code, _ in LOCATIONS)
# Robbery location groups of the Crimes and Clearances file, by NIBRS location code.
ROBBERY_LOCATION_GROUPS: dict[str, tuple[str, ...]] = {
    "HROBnao_sum": ("13",),
    "CHROBnao_sum": ("03", "05", "08", "12", "14", "17", "21", "24"),
    "GROBnao_sum": ("23",),
    "CROBnao_sum": ("07",),
    "RROBnao_sum": ("20",),
    "BROBnao_sum": ("02",),
}

LOCATION_MIX: dict[int, dict[str, float]] = {
    HOM: {"20": 0.40, "13": 0.30, "18": 0.08, "03": 0.03, "05": 0.03, "21": 0.02, "10": 0.04, "25": 0.10},
    RAPE: {"20": 0.70, "13": 0.05, "14": 0.05, "18": 0.03, "22": 0.03, "10": 0.02, "25": 0.12},
    ROB: {"13": 0.40, "18": 0.10, "05": 0.05, "08": 0.04, "12": 0.04, "21": 0.03, "24": 0.02, "03": 0.005,
          "14": 0.005, "17": 0.005, "23": 0.025, "07": 0.06, "20": 0.08, "02": 0.011, "22": 0.02, "10": 0.02,
          "01": 0.02, "25": 0.054},
    AGG: {"20": 0.40, "13": 0.30, "18": 0.07, "03": 0.03, "05": 0.03, "21": 0.02, "22": 0.02, "10": 0.02,
          "14": 0.02, "25": 0.09},
    BURG: {"20": 0.55, "05": 0.14, "24": 0.05, "21": 0.04, "06": 0.05, "19": 0.05, "22": 0.03, "04": 0.01,
           "11": 0.01, "12": 0.02, "25": 0.05},
    MVT: {"20": 0.45, "13": 0.30, "18": 0.20, "25": 0.05},
}

# Weapons (source codes). Robbery "PERSONAL" is strong-arm robbery.
WEAPONS = ("FIREARM", "KNIFE", "OTHER", "PERSONAL")
WEAPON_MIX: dict[int, tuple[float, ...]] = {
    HOM: (0.72, 0.12, 0.10, 0.06),
    ROB: (0.26, 0.09, 0.11, 0.54),
    AGG: (0.18, 0.17, 0.34, 0.31),
}
RAPE_ATTEMPTED = 0.066
ATTEMPTED: dict[int, float] = {ROB: 0.03, AGG: 0.0, BURG: 0.0, MVT: 0.05, LARC: 0.01, ARSON: 0.05}
# Burglary entry: forcible, unlawful (no force), attempted forcible entry.
ENTRIES = ("FORCE", "NOFORCE", "ATTFORCE")
ENTRY_MIX = (0.60, 0.33, 0.07)
# Share of residential and non-residential burglaries at night when the time is known.
BURGLARY_NIGHT = {True: 0.37, False: 0.63}
VEHICLES = ("AUTO", "TRUCK", "OTHER")
VEHICLE_MIX = (0.75, 0.18, 0.07)
# Larceny types, with the Crimes and Clearances column each counts in, the NIBRS code the records
# system gives it, its share and where it happens.
LARCENY_TYPES: tuple[tuple[str, str, str, float, dict[str, float]], ...] = (
    ("POCKET", "PPLARnao_sum", "23A", 0.0075, {"13": 0.5, "08": 0.2, "12": 0.1, "21": 0.1, "01": 0.1}),
    ("PURSE", "PSLARnao_sum", "23B", 0.004, {"13": 0.6, "18": 0.2, "08": 0.1, "12": 0.1}),
    ("SHOPLIFT", "SLLARnao_sum", "23C", 0.151, {"08": 0.45, "12": 0.25, "24": 0.2, "07": 0.05, "09": 0.05}),
    ("FROM_MV", "MVLARnao_sum", "23F", 0.384, {"20": 0.35, "13": 0.35, "18": 0.30}),
    ("MV_PARTS", "MVPLARnao_sum", "23G", 0.083, {"20": 0.35, "13": 0.35, "18": 0.30}),
    ("BICYCLE", "BILARnao_sum", "23H", 0.047, {"20": 0.5, "13": 0.25, "22": 0.15, "18": 0.1}),
    ("FROM_BLDG", "FBLARnao_sum", "23D", 0.112, {"05": 0.35, "20": 0.25, "22": 0.1, "09": 0.1, "21": 0.1,
                                                  "14": 0.1}),
    ("COIN_OP", "COMLARnao_sum", "23E", 0.002, {"05": 0.4, "21": 0.2, "23": 0.2, "03": 0.2}),
    ("ALL_OTHER", "AOLARnao_sum", "23H", 0.2095, {"20": 0.4, "13": 0.2, "18": 0.1, "05": 0.1, "25": 0.2}),
)
# Arson property class: structural, mobile, other, with where each burns.
ARSON_PROPERTY: tuple[tuple[str, float, dict[str, float]], ...] = (
    ("S", 0.33, {"20": 0.6, "05": 0.2, "22": 0.05, "04": 0.03, "11": 0.02, "25": 0.1}),
    ("M", 0.30, {"13": 0.5, "18": 0.3, "20": 0.2}),
    ("O", 0.37, {"10": 0.6, "13": 0.2, "25": 0.2}),
)
# Property value in dollars: lognormal (mu, sigma) of log-dollars, by offence.
VALUE_LOGNORMAL: dict[int, tuple[float, float]] = {
    ROB: (5.0, 1.6), BURG: (6.8, 1.5), MVT: (8.8, 0.9), LARC: (5.4, 2.4),
}
# From 2021 DOJ reports larceny value as "$200 and over" instead of "over $400" and "$200 to $400".
LARCENY_VALUE_BANDS_CHANGE = 2021
# Larceny above this value is grand theft (a felony) under California law since 2014.
GRAND_THEFT_THRESHOLD = 950

# Seasonality: relative crime volume by month.
MONTH_WEIGHTS = (0.93, 0.86, 0.96, 0.96, 1.02, 1.01, 1.06, 1.07, 1.02, 1.05, 0.99, 1.02)

# ---------------------------------------------------------------------------------------------
# Arrests
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrestOffense:
    code: str  # BCS offense code, as DOJ's arrest records write it (text, leading zeros kept)
    description: str
    category: str  # source spelling of the summary category; the mapping lowers its case
    level: str  # F, M, or "" for a status offence
    weight: float  # share among arrests not tied to a reported crime (0: only ever clears a crime)
    p_male: float
    age_profile: str  # young, adult, older, juvenile
    traffic: bool = False  # highway patrol arrests lean towards these


# The first nine rows are the offences of arrests that clear a reported crime (see LINKED_ARREST);
# rows with a weight also occur as arrests not tied to a reported crime.
ARREST_OFFENSES: tuple[ArrestOffense, ...] = (
    ArrestOffense("110", "Willful homicide", "VIOLENT", "F", 0.0, 0.88, "adult"),
    ArrestOffense("600", "Rape", "VIOLENT", "F", 0.0, 0.98, "adult"),
    ArrestOffense("200", "Robbery", "VIOLENT", "F", 0.0, 0.86, "young"),
    ArrestOffense("300", "Assault with a deadly weapon", "VIOLENT", "F", 0.035, 0.79, "adult"),
    ArrestOffense("400", "Burglary", "PROPERTY", "F", 0.0, 0.84, "young"),
    ArrestOffense("560", "Motor vehicle theft", "PROPERTY", "F", 0.0, 0.80, "young"),
    ArrestOffense("500", "Grand theft", "PROPERTY", "F", 0.0, 0.72, "adult"),
    ArrestOffense("516", "Petty theft", "PROPERTY", "M", 0.04, 0.60, "young"),
    ArrestOffense("920", "Arson", "PROPERTY", "F", 0.0, 0.80, "adult"),
    ArrestOffense("346", "Assault and battery", "VIOLENT", "M", 0.12, 0.75, "adult"),
    ArrestOffense("880", "Kidnapping", "VIOLENT", "F", 0.005, 0.85, "adult"),
    ArrestOffense("800", "Narcotics", "DRUG", "F", 0.035, 0.78, "adult"),
    ArrestOffense("820", "Dangerous drugs", "DRUG", "F", 0.03, 0.76, "adult"),
    ArrestOffense("826", "Dangerous drugs - misdemeanor", "DRUG", "M", 0.09, 0.74, "adult"),
    ArrestOffense("836", "Other drug law violations", "DRUG", "M", 0.04, 0.75, "adult"),
    ArrestOffense("816", "Marijuana - misdemeanor", "DRUG", "M", 0.02, 0.85, "young"),
    ArrestOffense("856", "Driving under the influence", "ALCOHOL", "M", 0.12, 0.76, "older", True),
    ArrestOffense("850", "Driving under the influence - felony", "ALCOHOL", "F", 0.006, 0.82, "older", True),
    ArrestOffense("046", "Drunk in public", "ALCOHOL", "M", 0.06, 0.84, "older"),
    ArrestOffense("077", "Liquor laws", "ALCOHOL", "M", 0.01, 0.70, "young"),
    ArrestOffense("066", "Vandalism", "PROPERTY", "M", 0.025, 0.82, "young"),
    ArrestOffense("580", "Forgery and checks", "PROPERTY", "F", 0.01, 0.62, "adult"),
    ArrestOffense("476", "Burglary tools", "PROPERTY", "M", 0.005, 0.85, "adult"),
    ArrestOffense("840", "Weapons", "OTHER", "F", 0.02, 0.93, "young"),
    ArrestOffense("846", "Weapons - misdemeanor", "OTHER", "M", 0.015, 0.90, "young"),
    ArrestOffense("065", "Outside warrant - felony", "OTHER", "F", 0.03, 0.80, "adult"),
    ArrestOffense("069", "Outside warrant - misdemeanor", "OTHER", "M", 0.05, 0.76, "adult"),
    ArrestOffense("093", "Probation or parole violation", "OTHER", "F", 0.03, 0.86, "adult"),
    ArrestOffense("017", "Probation violation - misdemeanor", "OTHER", "M", 0.01, 0.82, "adult"),
    ArrestOffense("068", "Trespassing", "OTHER", "M", 0.025, 0.80, "older"),
    ArrestOffense("057", "Disorderly conduct", "OTHER", "M", 0.015, 0.78, "adult"),
    ArrestOffense("036", "Disturbing the peace", "OTHER", "M", 0.01, 0.72, "young"),
    ArrestOffense("098", "Failure to appear - non-traffic", "OTHER", "M", 0.02, 0.75, "adult"),
    ArrestOffense("099", "Other misdemeanors", "OTHER", "M", 0.04, 0.74, "adult"),
    ArrestOffense("990", "Other felonies", "OTHER", "F", 0.015, 0.82, "adult"),
    ArrestOffense("700", "Lewd or lascivious", "SEX", "F", 0.005, 0.97, "older"),
    ArrestOffense("766", "Indecent exposure", "SEX", "M", 0.003, 0.93, "older"),
    ArrestOffense("028", "Prostitution", "SEX", "M", 0.006, 0.45, "adult"),
    ArrestOffense("086", "Miscellaneous traffic", "TRAFFIC", "M", 0.025, 0.78, "adult", True),
    ArrestOffense("865", "Felony traffic", "TRAFFIC", "F", 0.005, 0.83, "adult", True),
    ArrestOffense("867", "Hit and run", "TRAFFIC", "M", 0.01, 0.75, "adult", True),
    ArrestOffense("001", "Truancy", "STATUS", "", 0.002, 0.55, "juvenile"),
    ArrestOffense("003", "Curfew and loitering", "STATUS", "", 0.003, 0.70, "juvenile"),
    ArrestOffense("002", "Runaway", "STATUS", "", 0.002, 0.42, "juvenile"),
)
# Arrest offence (index in ARREST_OFFENSES) for an arrest that clears each of the eight crimes;
# larceny splits into grand and petty theft by value.
LINKED_ARREST = (0, 1, 2, 3, 4, 5, 6, 8)
PETTY_THEFT = 7
# From 2015 (Proposition 47) many drug felonies became misdemeanors; from 2017 (Proposition 64)
# marijuana arrests fell. Multipliers by BCS code: (first year, factor).
ARREST_REFORMS: dict[str, tuple[int, float]] = {
    "800": (2015, 0.35), "820": (2015, 0.35), "826": (2015, 2.0), "816": (2017, 0.3),
}
ARREST_YEAR_FACTOR = {2020: 0.82, 2021: 0.88, 2022: 0.9}
# Age profile: age = offset + a gamma(shape, scale) draw, kept within [lowest, highest] years.
AGE_PROFILES: dict[str, tuple[float, float, int, int, int]] = {
    "young": (2.4, 7.0, 12, 10, 79), "adult": (2.2, 9.0, 14, 12, 84), "older": (2.6, 9.5, 16, 14, 89),
    "juvenile": (6.0, 1.0, 9, 10, 17),
}
# How much more (or less) often each group is arrested than its population share alone implies.
RACE_ARREST_FACTOR = {
    "hispanic": 1.15, "white": 1.0, "black": 3.3, "asian": 0.3, "pacific_islander": 1.2,
    "american_indian": 1.6, "multiracial": 0.5,
}
# Race as the arrest records write it (single letters) and the standard code.
RACE_SOURCE = {
    "hispanic": "H", "white": "W", "black": "B", "asian": "A", "pacific_islander": "P",
    "american_indian": "I", "multiracial": "M", "other": "O", "unknown": "U",
}
RACE_RECORDED_OTHER = 0.025
RACE_RECORDED_UNKNOWN = 0.008
SEX_RECORDED_UNKNOWN = 0.002
# Dispositions as the source writes them; adults and juveniles are handled differently.
DISPOSITION_SOURCE = {
    "complaint_sought": "CS", "released": "REL", "turned_over": "TOA",
    "handled_within_department": "HWD", "referred_to_probation": "PROB",
}
ADULT_DISPOSITIONS = (("complaint_sought", 0.86), ("released", 0.08), ("turned_over", 0.06))
JUVENILE_DISPOSITIONS = (
    ("referred_to_probation", 0.55), ("handled_within_department", 0.30), ("turned_over", 0.05),
    ("complaint_sought", 0.05), ("released", 0.05),
)

# ---------------------------------------------------------------------------------------------
# Population
# ---------------------------------------------------------------------------------------------
AGE_GROUPS = ("0-9", "10-17", "18-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
              "55-59", "60-64", "65-69", "70+")
AGE_GROUP_LOWER = (0, 10, 18, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70)
AGE_SHARES = (0.123, 0.104, 0.026, 0.069, 0.076, 0.075, 0.069, 0.064, 0.063, 0.063, 0.063, 0.060, 0.050,
              0.095)
MALE_SHARE_BY_AGE = (0.512, 0.512, 0.51, 0.51, 0.51, 0.505, 0.50, 0.50, 0.495, 0.49, 0.485, 0.48, 0.47, 0.43)
POP_SEXES = ("M", "F")
POP_RACES = ("hispanic", "white", "asian", "black", "multiracial", "american_indian", "pacific_islander")
RACE_SHARES = (0.394, 0.352, 0.151, 0.054, 0.041, 0.005, 0.003)
# Relative yearly drift of each race's share.
RACE_DRIFT = (0.004, -0.010, 0.010, -0.004, 0.020, 0.0, 0.005)
# Age-profile tilt by race for groups under 30 and aged 60 and over.
RACE_AGE_TILT = {
    "hispanic": (1.25, 0.65), "white": (0.75, 1.45), "asian": (0.95, 1.05), "black": (1.0, 0.95),
    "multiracial": (1.6, 0.5), "american_indian": (1.0, 1.0), "pacific_islander": (1.15, 0.7),
}

# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
TOWN_PREFIXES = (
    "Alder", "Amber", "Arbor", "Aspen", "Bay", "Bear", "Birch", "Black", "Blue", "Bright", "Brook",
    "Canyon", "Cedar", "Clear", "Cliff", "Copper", "Coral", "Cotton", "Cypress", "Deer", "Eagle", "Elm",
    "Fair", "Falcon", "Fern", "Fox", "Glen", "Gold", "Granite", "Green", "Haven", "Hawk", "Hazel", "High",
    "Holly", "Iron", "Ivy", "Juniper", "Lake", "Laurel", "Lime", "Lone", "Maple", "Marsh", "Meadow", "Mill",
    "Mist", "Oak", "Olive", "Orchard", "Pebble", "Pine", "Poppy", "Quail", "Raven", "Red", "Ridge", "River",
    "Rock", "Rose", "Sage", "Salt", "Sand", "Shadow", "Silver", "Spring", "Stone", "Summer", "Sun",
    "Sycamore", "Thistle", "Timber", "Valley", "Walnut", "Willow", "Wind", "Wolf",
)
TOWN_SUFFIXES = (
    "bend", "brook", "crest", "dale", "field", "ford", "gate", "grove", "haven", "hill", "hurst", "land",
    "mont", "more", "port", "ridge", "side", "stead", "ton", "vale", "view", "ville", "wood", "wick",
)
TOWN_QUALIFIERS = ("", "North ", "South ", "East ", "West ", "Port ", "Mount ", "Lake ")

# ---------------------------------------------------------------------------------------------
# The real Crimes and Clearances file's header, in order (70 columns, spelled as DOJ spells them)
# ---------------------------------------------------------------------------------------------
CC_COLUMNS: tuple[str, ...] = (
    "Year", "County", "NCICCode", "Violent_sum", "Homicide_sum", "ForRape_sum", "Robbery_sum",
    "AggAssault_sum", "Property_sum", "Burglary_sum", "VehicleTheft_sum", "LTtotal_sum", "ViolentClr_sum",
    "HomicideClr_sum", "ForRapeClr_sum", "RobberyClr_sum", "AggAssaultClr_sum", "PropertyClr_sum",
    "BurglaryClr_sum", "VehicleTheftClr_sum", "LTtotalClr_sum", "TotalStructural_sum", "TotalMobile_sum",
    "TotalOther_sum", "GrandTotal_sum", "GrandTotClr_sum", "RAPact_sum", "ARAPact_sum", "FROBact_sum",
    "KROBact_sum", "OROBact_sum", "SROBact_sum", "HROBnao_sum", "CHROBnao_sum", "GROBnao_sum",
    "CROBnao_sum", "RROBnao_sum", "BROBnao_sum", "MROBnao_sum", "FASSact_sum", "KASSact_sum",
    "OASSact_sum", "HASSact_sum", "FEBURact_Sum", "UBURact_sum", "RESDBUR_sum", "RNBURnao_sum",
    "RDBURnao_sum", "RUBURnao_sum", "NRESBUR_sum", "NNBURnao_sum", "NDBURnao_sum", "NUBURnao_sum",
    "MVTact_sum", "TMVTact_sum", "OMVTact_sum", "PPLARnao_sum", "PSLARnao_sum", "SLLARnao_sum",
    "MVLARnao_sum", "MVPLARnao_sum", "BILARnao_sum", "FBLARnao_sum", "COMLARnao_sum", "AOLARnao_sum",
    "LT400nao_sum", "LT200400nao_sum", "LT200nao_sum", "LT50200nao_sum", "LT50nao_sum",
)
