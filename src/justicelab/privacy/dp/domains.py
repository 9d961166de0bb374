"""The dimensions of a DP table and their public domains: the groups a release has, decided before the data is read.

A DP release must publish every group of a domain fixed in advance — the standard's code list for the field,
the bands an indicator declares, a field's declared range, or a list the user gives (``--domain
year=2005..2018``) — and never the groups observed in the data: publishing only the keys present would reveal,
without noise, that someone with that combination is in the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from justicelab.indicators import band_labels
from justicelab.privacy.dp.errors import DPError
from justicelab.standard import FieldType, ResolvedEntity, Standard

#: A release larger than this many cells is refused (it would be mostly noise and slow to reconcile).
MAX_CELLS = 250_000
#: A field's declared integer range is used as its domain only up to this many values.
MAX_RANGE_VALUES = 1_000

DimensionKind = Literal["column", "year_of", "bands_of"]
ValueType = Literal["int", "str", "bool"]


@dataclass(frozen=True)
class Dimension:
    """One breakdown of a DP table: how a record's value is read and the public list of values it can take."""

    name: str
    kind: DimensionKind
    column: str
    values: tuple[Any, ...]
    value_type: ValueType
    origin: str
    #: Given by the user: records whose value is outside it are out of the release's scope.
    explicit: bool
    edges: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return len(self.values)

    @property
    def has_missing(self) -> bool:
        """The domain ends with a 'not recorded' group (the field is optional in the standard)."""
        return None in self.values

    def describe(self) -> str:
        how = {"column": self.column, "year_of": f"year of {self.column}", "bands_of": f"bands of {self.column}"}
        return f"{self.name} ({how[self.kind]}; {self.size} groups from {self.origin})"


def parse_domain_options(options: Sequence[str]) -> dict[str, str]:
    """``["year=2005..2018", "sex=F|M"]`` -> ``{"year": "2005..2018", "sex": "F|M"}``."""
    parsed: dict[str, str] = {}
    for option in options:
        name, sep, spec = option.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise DPError(f"--domain {option!r}: expected NAME=LOW..HIGH or NAME=VALUE|VALUE|..., "
                          "e.g. --domain year=2005..2018")
        if name in parsed:
            raise DPError(f"--domain {name} is given twice")
        parsed[name] = spec
    return parsed


def _value_type(entity: ResolvedEntity, kind: DimensionKind, column: str) -> ValueType:
    if kind == "year_of":
        return "int"
    if kind == "bands_of":
        return "str"
    ftype = entity.field(column).type
    if ftype is FieldType.integer:
        return "int"
    if ftype is FieldType.boolean:
        return "bool"
    if ftype is FieldType.string:
        return "str"
    raise DPError(f"{entity.name}.{column} is a {ftype} field: group by a code list, an integer, a boolean, "
                  f"the year of a date or declared bands (e.g. year for the year of a date)")


def _spec(standard: Standard, entity: ResolvedEntity, name: str) -> tuple[DimensionKind, str, tuple[int, ...]]:
    """How a dimension name is read from the entity: its own field, an indicator's dimension, or 'year'."""
    if name in entity.field_names():
        return "column", name, ()
    for indicator in standard.indicators.values():
        dim = indicator.dimensions.get(name)
        if indicator.numerator.table == entity.name and dim is not None:
            if dim.column:
                return "column", dim.column, ()
            if dim.year_of:
                return "year_of", dim.year_of, ()
            assert dim.bands_of and dim.edges
            return "bands_of", dim.bands_of, tuple(dim.edges)
    dates = [f for f in entity.fields if f.type in (FieldType.date, FieldType.timestamp)]
    required = [f for f in dates if f.required]
    if name == "year" and (len(required) == 1 or len(dates) == 1):
        return "year_of", (required or dates)[0].name, ()
    indicator_dims = sorted({d for i in standard.indicators.values() if i.numerator.table == entity.name
                             for d in i.dimensions})
    raise DPError(f"{entity.name} has no dimension {name!r}: use one of its fields or "
                  f"{', '.join(indicator_dims) or 'year'}")


def _typed(value: str, value_type: ValueType, where: str) -> Any:
    if value_type == "int":
        try:
            return int(value)
        except ValueError:
            raise DPError(f"{where}: {value!r} is not a whole number") from None
    if value_type == "bool":
        if value.lower() not in ("true", "false"):
            raise DPError(f"{where}: {value!r} is not true or false")
        return value.lower() == "true"
    return value


def _explicit_values(spec: str, value_type: ValueType, where: str) -> tuple[Any, ...]:
    if ".." in spec:
        low, _, high = spec.partition("..")
        if value_type != "int":
            raise DPError(f"{where}: a range LOW..HIGH needs a whole-number dimension; list the values as a|b|c")
        lo, hi = _typed(low.strip(), "int", where), _typed(high.strip(), "int", where)
        if hi < lo:
            raise DPError(f"{where}: the range {spec} is empty (HIGH is below LOW)")
        if hi - lo + 1 > MAX_CELLS:
            raise DPError(f"{where}: the range {spec} has more than {MAX_CELLS:,} values")
        return tuple(range(lo, hi + 1))
    values = tuple(_typed(v.strip(), value_type, where) for v in spec.split("|"))
    dupes = sorted({str(v) for v in values if values.count(v) > 1})
    if dupes:
        raise DPError(f"{where}: values given twice: {', '.join(dupes)}")
    return values


def _public_values(standard: Standard, entity: ResolvedEntity, name: str, kind: DimensionKind, column: str,
                   edges: tuple[int, ...]) -> tuple[tuple[Any, ...], str]:
    """The domain the standard declares for the dimension, or a refusal saying how to give one."""
    field = entity.field(column)
    if kind == "bands_of":
        return tuple(band_labels(list(edges))), f"the bands of {column} an indicator declares"
    if kind == "column":
        if field.codelist:
            return tuple(standard.codelist(field.codelist).values()), f"the standard's code list {field.codelist}"
        if field.type is FieldType.boolean:
            return (True, False), "true/false"
        low, high = field.minimum, field.maximum
        if (field.type is FieldType.integer and isinstance(low, int) and isinstance(high, int)
                and high - low + 1 <= MAX_RANGE_VALUES):
            return tuple(range(low, high + 1)), f"the standard's declared range {low}..{high}"
    what = f"the year of {column}" if kind == "year_of" else f"{entity.name}.{column}"
    example = "2005..2018" if kind == "year_of" else "A|B|C"
    raise DPError(
        f"dimension {name!r} ({what}) has no public list of values in the standard: give one, e.g. "
        f"--domain {name}={example}. It is never taken from the data: publishing only the groups present "
        f"would itself reveal who is in the data."
    )


def resolve_dimensions(standard: Standard, entity: ResolvedEntity, by: Sequence[str],
                       domains: Mapping[str, str] | None = None) -> list[Dimension]:
    """Resolve ``--by`` names against the entity and the standard, each with its public domain."""
    domains = dict(domains or {})
    names = [b.strip() for b in by if b.strip()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DPError(f"--by names {', '.join(dupes)} twice")
    unused = sorted(set(domains) - set(names))
    if unused:
        raise DPError(f"--domain {', '.join(unused)}: not a dimension of --by ({', '.join(names) or 'none'})")
    dims: list[Dimension] = []
    for name in names:
        kind, column, edges = _spec(standard, entity, name)
        value_type = _value_type(entity, kind, column)
        if name in domains:
            values = _explicit_values(domains[name], value_type, f"--domain {name}")
            field = entity.field(column)
            if kind == "column" and field.codelist:
                codes = set(standard.codelist(field.codelist).values())
                unknown = [v for v in values if v not in codes]
                if unknown:
                    raise DPError(f"--domain {name}: {', '.join(map(str, unknown))} not in the code list "
                                  f"{field.codelist}")
            dims.append(Dimension(name, kind, column, values, value_type, f"--domain {name}={domains[name]}",
                                  True, edges))
            continue
        values, origin = _public_values(standard, entity, name, kind, column, edges)
        if not entity.field(column).required:
            values = (*values, None)
            origin += " and a 'not recorded' group"
        dims.append(Dimension(name, kind, column, values, value_type, origin, False, edges))
    cells = 1
    for d in dims:
        cells *= d.size
    if cells > MAX_CELLS:
        sizes = " x ".join(f"{d.name} {d.size}" for d in dims)
        raise DPError(f"{sizes} = {cells:,} cells, more than {MAX_CELLS:,}: group by fewer or coarser dimensions")
    return dims


def value_expr(t: ir.Table, dim: Dimension) -> ir.Value:
    """The dimension's value for each record, before it is matched against the domain."""
    col = t[dim.column]
    if dim.kind == "year_of":
        return col.year().cast("int64")
    if dim.kind == "bands_of":
        labels = band_labels(list(dim.edges))
        cases = [((col >= lo) & (col < hi), labels[i]) for i, (lo, hi) in enumerate(zip(dim.edges, dim.edges[1:],
                                                                                           strict=False))]
        cases.append((col >= dim.edges[-1], labels[-1]))
        return ibis.cases(*cases, else_=ibis.null("string"))
    return col


def in_domain(t: ir.Table, dim: Dimension) -> tuple[ir.BooleanValue | None, ir.Value]:
    """(scope filter or None, grouped value): values outside the domain fall in its 'not recorded' group if it
    has one, else out of scope (a user-given domain restricts the release to the records inside it)."""
    raw = value_expr(t, dim)
    known = [v for v in dim.values if v is not None]
    inside = raw.isin(known)
    if dim.has_missing:
        return None, ibis.ifelse(inside, raw, ibis.null(raw.type()))
    return inside, raw
