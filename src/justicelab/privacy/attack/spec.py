"""Which columns an attack links on, and at which level the release holds each.

``--qi`` syntax (comma-separated items): ``[RELEASE=]NAME[:LEVEL]``.

* ``NAME`` names the column in both files: the column itself, or a unique column starting with ``NAME_``
  (``race`` is the release's ``race_ethnicity``, ``date`` its ``date_of_death``).
* ``RELEASE=NAME`` pairs a release column with an external column of another name (``year=date``).
* ``LEVEL`` is the release's level for that column (``band_10``, ``month``, ``region``, ``HIERARCHY.LEVEL``,
  ``suppressed``, or ``recorded`` to compare as recorded); without it the level comes from the release
  metadata if given, else from the release's labels.

Without ``--qi`` the attack uses every external column that the release also has, except the truth
columns, names, identifiers (``id`` and ``*_id``) and the standard's direct identifiers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from justicelab.privacy.attack.errors import AttackError
from justicelab.privacy.attack.levels import (
    Codec,
    check_external,
    check_release,
    detect,
    first_invalid,
    has_values,
    lookup_domain,
)
from justicelab.privacy.attack.tables import Side
from justicelab.standard import PrivacyRole, Standard
from justicelab.warehouse import Generaliser

RECORDED = "recorded"
_ITEM = re.compile(r"^(?:(?P<release>[^=:\s]+)=)?(?P<name>[^:=\s]+)(?::(?P<level>[^:=\s]+))?$")


@dataclass(frozen=True)
class QuasiIdentifier:
    """One linking column: the release's column at its level, and the external column generalised to match."""

    release_column: str
    external_column: str
    hierarchy: str | None = None
    #: The release's level ("band_10", "month", "suppressed"); None: compared as recorded.
    level: str | None = None
    #: Where the level came from: "--qi", "metadata", "labels" or "as recorded".
    found_by: str = "as recorded"
    #: Other levels the release's labels would fit too (a county list that is also a region list).
    also_fits: tuple[str, ...] = ()

    def describe(self) -> str:
        """``release_column ~ external_column at hierarchy.level`` for reports."""
        pair = self.release_column if self.release_column == self.external_column else (
            f"{self.release_column} ~ {self.external_column}")
        return f"{pair} at {self.hierarchy}.{self.level}" if self.hierarchy else f"{pair} as recorded"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for reports and the release ledger."""
        return {"release_column": self.release_column, "external_column": self.external_column,
                "hierarchy": self.hierarchy, "level": self.level, "found_by": self.found_by,
                "also_fits": list(self.also_fits)}


@dataclass(frozen=True)
class Truth:
    """The evaluation-only columns holding the true record (or person) on each side; never linked on."""

    release_column: str
    external_column: str

    def as_dict(self) -> dict[str, str]:
        return {"release_column": self.release_column, "external_column": self.external_column}


def parse_qi(text: str) -> list[tuple[str | None, str, str | None]]:
    """``--qi`` items as (release name or None, name, level or None)."""
    items = []
    for raw in (t.strip() for t in text.split(",")):
        if not raw:
            continue
        m = _ITEM.match(raw)
        if not m:
            raise AttackError(f"--qi item {raw!r} is not [RELEASE=]NAME[:LEVEL] (e.g. age, age:band_10, year=date)")
        items.append((m["release"], m["name"], m["level"]))
    if not items:
        raise AttackError("--qi names no column; e.g. --qi age,sex,race,county,date")
    return items


def find_column(side: Side, name: str) -> str | None:
    """``name`` itself, else the one column starting with ``name_``; None when neither."""
    if name in side.columns:
        return name
    prefixed = [c for c in side.columns if c.startswith(name + "_")]
    return prefixed[0] if len(prefixed) == 1 else None


def column(side: Side, name: str, what: str) -> str:
    """:func:`find_column` or an error naming the file and its columns."""
    found = find_column(side, name)
    if found is None:
        raise AttackError(f"{side.name} has no column {name!r} ({what}); it has: {', '.join(side.columns)}")
    return found


def hierarchy_for(standard: Standard, *columns: str) -> str | None:
    """The hierarchy the standard gives a field of this name (the first column that has one), or one named so."""
    for name in columns:
        named = {f.hierarchy for e in standard.entities.values() for f in e.fields if f.name == name and f.hierarchy}
        if len(named) == 1:
            return named.pop()
        if name in standard.hierarchies:
            return name
    return None


def truth(text: str | None, release: Side, external: Side) -> Truth | None:
    """``--truth-column NAME`` (the same name on both sides) or ``RELEASE=EXTERNAL``."""
    if not text:
        return None
    rel, _, ext = text.partition("=")
    rel, ext = rel.strip(), (ext or rel).strip()
    for side, name in ((release, rel), (external, ext)):
        if name not in side.columns:
            raise AttackError(f"{side.name} has no column {name!r} (--truth-column); it has: {', '.join(side.columns)}")
    return Truth(rel, ext)


def read_metadata(path: Path) -> dict[str, tuple[str | None, str]]:
    """Release column → (hierarchy or None, level), from a release metadata JSON's ``quasi_identifiers``:
    a list of ``{"column", "hierarchy", "level"}`` objects or a ``{"column": "[HIERARCHY.]LEVEL"}`` mapping."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AttackError(f"{path}: no such file (--metadata)") from None
    except (OSError, ValueError) as exc:
        raise AttackError(f"{path}: not readable JSON: {exc}") from None
    items = data.get("quasi_identifiers") if isinstance(data, dict) else None
    if items is None:
        raise AttackError(f"{path}: expected an object with quasi_identifiers (a list of "
                          '{"column", "hierarchy", "level"} or a {"column": "HIERARCHY.LEVEL"} mapping)')
    out: dict[str, tuple[str | None, str]] = {}
    if isinstance(items, dict):
        items = [{"column": k, "level": v} for k, v in items.items()]
    if not isinstance(items, list):
        raise AttackError(f"{path}: quasi_identifiers must be a list or a mapping")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("column"), str):
            raise AttackError(f"{path}: quasi_identifiers[{i}] has no column name")
        level = item.get("level")
        level = RECORDED if level is None else str(level)
        hierarchy = item.get("hierarchy")
        if hierarchy is None and "." in level:
            hierarchy, level = level.split(".", 1)
        out[item["column"]] = (str(hierarchy) if hierarchy else None, level)
    return out


def _never(standard: Standard) -> set[str]:
    return {f.name for e in standard.entities.values() for f in e.fields
            if f.privacy_role is PrivacyRole.direct_identifier}


def requested(qi: str | None, release: Side, external: Side, standard: Standard, excluded: tuple[str, ...],
              name_column: str | None = None) -> list[tuple[str, str, str | None]]:
    """(release column, external column, level or None) for every ``--qi`` item, or the default set.

    ``excluded`` are the truth columns (never linked on); ``name_column`` is left out of the default set."""
    if qi:
        out = []
        for rel, name, level in parse_qi(qi):
            r = column(release, rel or name, "--qi")
            e = column(external, name, "--qi")
            if r in excluded or e in excluded:
                raise AttackError(f"--qi {rel or name}: {r if r in excluded else e} is the truth column; "
                                  "it is for scoring only and never linked on")
            out.append((r, e, level))
        return out
    never = _never(standard) | set(excluded) | ({name_column} if name_column else set())
    out = []
    for name in external.columns:
        if name in never or name == "id" or name.endswith("_id"):
            continue
        found = find_column(release, name)
        if found is not None and found not in never and found not in {x[0] for x in out}:
            out.append((found, name, None))
    if not out:
        raise AttackError(f"{release.name} and {external.name} share no quasi-identifier column; name them with "
                          f"--qi RELEASE=EXTERNAL (release has: {', '.join(release.columns)}; external has: "
                          f"{', '.join(external.columns)})")
    return out


def infer_hierarchy(con: duckdb.DuckDBPyConnection, external: Side, column_name: str,
                    generaliser: Generaliser) -> str | None:
    """For a column the standard does not name: the date hierarchy when every external value is a date, or
    the one lookup hierarchy whose code list holds every external value (a county column called "place")."""
    candidates = []
    for name, h in generaliser.standard.hierarchies.items():
        if h.kind == "date" or (h.kind == "lookup" and lookup_domain(generaliser.standard, name)):
            codec = Codec(con, generaliser, name, 0)
            bad, _, _ = first_invalid(con, external, column_name, codec.external_valid)
            candidates.append((name, bad))
    fits = [name for name, bad in candidates if bad == 0]
    return fits[0] if len(fits) == 1 and has_values(con, external, column_name) else None


def settle(con: duckdb.DuckDBPyConnection, release: Side, external: Side, generaliser: Generaliser,
           rel: str, ext: str, level: str | None,
           metadata: dict[str, tuple[str | None, str]]) -> tuple[QuasiIdentifier, Codec]:
    """The pair's hierarchy and the release's level (given, from metadata, or detected), both sides checked."""
    hierarchy = hierarchy_for(generaliser.standard, rel, ext) or infer_hierarchy(con, external, ext, generaliser)
    found_by = "--qi"
    if level is None and rel in metadata:
        meta_h, level = metadata[rel]
        hierarchy = meta_h or hierarchy
        found_by = "metadata"
    also: tuple[str, ...] = ()
    if level is None:
        if hierarchy is None:
            codec, found_by = Codec(con, generaliser, None), "as recorded"
        else:
            codec, also = detect(con, release, rel, generaliser, hierarchy)
            found_by = "labels"
    elif level == RECORDED:
        codec, found_by = Codec(con, generaliser, None), "as recorded"
    else:
        if "." in level:
            hierarchy, level = level.split(".", 1)
        if hierarchy is None:
            raise AttackError(f"{release.where(None, rel)}: no hierarchy in the standard for level {level!r}; "
                              f"write {rel}:HIERARCHY.LEVEL with one of: {', '.join(generaliser.standard.hierarchies)}")
        if hierarchy not in generaliser.standard.hierarchies:
            raise AttackError(f"{release.where(None, rel)}: unknown hierarchy {hierarchy!r}; the standard defines: "
                              f"{', '.join(generaliser.standard.hierarchies)}")
        codec = Codec(con, generaliser, hierarchy, level)
        check_release(con, release, rel, codec)
    check_external(con, external, ext, codec)
    return QuasiIdentifier(rel, ext, codec.hierarchy, codec.level, found_by, also), codec
