"""Validation compiled from the standard to SQL: type, required, code list, range, length, pattern,
cross-field rules and the natural key.

Each check is a SQL condition that is TRUE when a row breaks it. Staging evaluates
all of them at once into one ``_ok`` flag (fast path); only the rows that fail are
evaluated again to spell out every reason (column, value, rule, message).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass

from justicelab.ingest.mapping import FieldMapping
from justicelab.ingest.sql import ident, literal
from justicelab.ingest.transforms import clean_columns_sql, raw_source_expr, text_expr
from justicelab.standard import FieldDef, FieldType, ResolvedEntity, Standard

_BOOL_TRUE = ("true", "t", "yes", "y", "1")
_BOOL_FALSE = ("false", "f", "no", "n", "0")
_SQL_TYPES = {
    FieldType.string: "VARCHAR",
    FieldType.integer: "BIGINT",
    FieldType.number: "DOUBLE",
    FieldType.boolean: "BOOLEAN",
    FieldType.date: "DATE",
    FieldType.timestamp: "TIMESTAMP",
}


def t_col(name: str) -> str:
    return ident(f"t${name}")


def v_col(name: str) -> str:
    return ident(f"v${name}")


@dataclass(frozen=True)
class Check:
    field: str
    column: str  # the source column(s) a person should look at
    rule: str
    message: str
    failed: str  # SQL, TRUE when the row breaks the rule
    value: str  # SQL for the offending value as text


def sql_type(f: FieldDef) -> str:
    return _SQL_TYPES[f.type]


def _parse_date(text: str, fm: FieldMapping | None, target: str) -> str:
    formats = [] if fm is None or fm.date_format is None else (
        [fm.date_format] if isinstance(fm.date_format, str) else list(fm.date_format)
    )
    if not formats:
        return f"TRY_CAST({text} AS {target})"
    fmt_sql = literal(formats[0]) if len(formats) == 1 else "[" + ", ".join(literal(f) for f in formats) + "]"
    ts = f"TRY_STRPTIME({text}, {fmt_sql})"
    if any("%y" in f for f in formats):
        assert fm is not None
        if fm.two_digit_year == "past":
            # A two-digit year that lands in the future belongs to the previous century.
            ts = f"(CASE WHEN {ts} > current_localtimestamp() THEN {ts} - INTERVAL 100 YEAR ELSE {ts} END)"
        else:
            yy = f"(year({ts}) % 100)"
            ts = (
                f"({ts} + to_years(CAST(CASE WHEN {yy} > {fm.century_pivot} THEN 1900 ELSE 2000 END "
                f"+ {yy} - year({ts}) AS INTEGER)))"
            )
    return f"CAST({ts} AS {target})"


def typed_expr(f: FieldDef, fm: FieldMapping | None, text: str) -> str:
    """SQL that parses the cleaned text to the field's type, NULL when it does not parse."""
    if f.type is FieldType.string:
        return text
    if f.type is FieldType.integer:
        return f"TRY_CAST({text} AS BIGINT)"
    if f.type is FieldType.number:
        return f"TRY_CAST({text} AS DOUBLE)"
    if f.type is FieldType.boolean:
        low = f"lower({text})"
        trues = ", ".join(literal(v) for v in _BOOL_TRUE)
        falses = ", ".join(literal(v) for v in _BOOL_FALSE)
        return f"(CASE WHEN {low} IN ({trues}) THEN TRUE WHEN {low} IN ({falses}) THEN FALSE END)"
    return _parse_date(text, fm, sql_type(f))


def _expected(f: FieldDef, fm: FieldMapping | None) -> str:
    if f.type in (FieldType.date, FieldType.timestamp):
        fmts = fm.date_format if fm and fm.date_format else ("%Y-%m-%d" if f.type is FieldType.date else
                                                               "%Y-%m-%d %H:%M:%S")
        shown = fmts if isinstance(fmts, str) else " or ".join(fmts)
        return f"a {f.type.value} in the format {shown}"
    if f.type is FieldType.boolean:
        return "true/false (or yes/no, 1/0)"
    return {"integer": "a whole number", "number": "a number"}.get(f.type.value, f.type.value)


def _bound(value: object, f: FieldDef) -> str:
    if value == "today":
        return "current_date" if f.type is FieldType.date else "current_localtimestamp()"
    if f.type in (FieldType.date, FieldType.timestamp):
        return f"CAST({literal(value)} AS {sql_type(f)})"
    return literal(value)


def field_checks(
    f: FieldDef, fm: FieldMapping | None, column_map: MappingABC[str, str], standard: Standard
) -> list[Check]:
    column = "(not mapped)" if fm is None else (
        f"constant {fm.constant!r}" if fm.constant is not None else "+".join(fm.source_columns())
    )
    raw = "NULL" if fm is None else raw_source_expr(fm, column_map)
    t, v = t_col(f.name), v_col(f.name)
    out: list[Check] = []

    def add(rule: str, message: str, failed: str, value: str = raw) -> None:
        out.append(Check(f.name, column, rule, message, failed, value))

    if f.required:
        add("required", f"{f.name} is required", f"{t} IS NULL")
    if f.type is not FieldType.string:
        add("type", f"expected {_expected(f, fm)}", f"{t} IS NOT NULL AND {v} IS NULL")
    if f.codelist:
        codes = standard.codelist(f.codelist).values()
        shown = ", ".join(codes[:12]) + (" …" if len(codes) > 12 else "")
        add(
            "codelist",
            f"expected a code of {f.codelist}: {shown}",
            f"{v} IS NOT NULL AND {v} NOT IN ({', '.join(literal(c) for c in codes)})",
            f"coalesce({t}, {raw})",
        )
    if f.minimum is not None:
        add("minimum", f"must not be before/below {f.minimum}", f"{v} < {_bound(f.minimum, f)}")
    if f.maximum is not None:
        add("maximum", f"must not be after/above {f.maximum}", f"{v} > {_bound(f.maximum, f)}")
    if f.max_length is not None:
        add("max_length", f"longer than {f.max_length} characters", f"length({v}) > {f.max_length}")
    if f.pattern is not None:
        add(
            "pattern",
            f"does not match the pattern {f.pattern}",
            f"{v} IS NOT NULL AND NOT regexp_full_match({v}, {literal(f.pattern)})",
        )
    return out


def entity_checks(
    entity: ResolvedEntity,
    mappings: MappingABC[str, FieldMapping],
    column_map: MappingABC[str, str],
    key: Sequence[str],
    standard: Standard,
) -> list[Check]:
    """Every check for one mapping: field rules, cross-field rules and natural-key presence."""
    checks: list[Check] = []
    for f in entity.fields:
        if f.name in mappings or f.required:
            checks.extend(field_checks(f, mappings.get(f.name), column_map, standard))
    for rule in entity.rules:
        if rule.left in mappings and rule.right in mappings:
            left, right = v_col(rule.left), v_col(rule.right)
            cols = "+".join(
                c for name in (rule.left, rule.right)
                for c in (mappings[name].source_columns() or [f"constant {mappings[name].constant!r}"])
            )
            checks.append(
                Check(
                    field=f"{rule.left},{rule.right}",
                    column=cols,
                    rule=rule.name,
                    message=rule.message,
                    failed=f"{left} IS NOT NULL AND {right} IS NOT NULL AND NOT ({left} {rule.op} {right})",
                    value=f"CAST({left} AS VARCHAR) || ' vs ' || CAST({right} AS VARCHAR)",
                )
            )
    if key and not all(entity.field(k).required for k in key):
        # A key part may be empty where empty means "all" (population by sex: NULL = both sexes), but a
        # record whose whole key is empty cannot be told apart from any other.
        checks.append(
            Check(
                field=",".join(key),
                column="+".join(c for k in key for c in mappings[k].source_columns()),
                rule="natural_key",
                message=f"the natural key ({', '.join(key)}) is empty",
                failed=" AND ".join(f"{v_col(k)} IS NULL" for k in key),
                value="NULL",
            )
        )
    return checks


@dataclass(frozen=True)
class StagingSQL:
    """SQL pieces over one parse of the source: ``cte`` defines ``v``; the rest are expressions over ``v``."""

    cte: str
    record_id: str
    fields: str  # every standard field, typed (NULL where unmapped), with its name
    bad: str  # TRUE when any check fails


def staging_sql(
    entity: ResolvedEntity,
    mappings: MappingABC[str, FieldMapping],
    column_map: MappingABC[str, str],
    null_values: Sequence[str],
    source_name: str,
    key: Sequence[str],
    checks: Sequence[Check],
    source: str = "jl_raw",
) -> StagingSQL:
    """Compile a mapping into the layered parse of ``source``: clean columns, field text, typed values."""
    clean_cols = clean_columns_sql(mappings, column_map, null_values)
    text_cols = ", ".join(f"{text_expr(fm)} AS {t_col(name)}" for name, fm in mappings.items())
    typed_cols = ", ".join(
        f"{typed_expr(entity.field(name), fm, t_col(name))} AS {v_col(name)}" for name, fm in mappings.items()
    )
    cte = (
        f"WITH c AS (SELECT *{', ' + clean_cols if clean_cols else ''} FROM {source}), "
        f"t AS (SELECT *, {text_cols} FROM c), "
        f"v AS (SELECT *, {typed_cols} FROM t)"
    )
    fields = []
    for f in entity.fields:
        expr = v_col(f.name) if f.name in mappings else f"CAST(NULL AS {sql_type(f)})"
        fields.append(f"{expr} AS {ident(f.name)}")
    key_text = " || '|' || ".join(f"coalesce(CAST({v_col(k)} AS VARCHAR), '')" for k in key)
    record_id = f"{literal(source_name + ':')} || {key_text}" if key else (
        f"{literal(source_name + ':row:')} || CAST(_source_row AS VARCHAR)"
    )
    bad = " OR ".join(f"coalesce({c.failed}, false)" for c in checks) or "false"
    return StagingSQL(cte=cte, record_id=record_id, fields=", ".join(fields), bad=f"({bad})")


def reasons_sql(checks: Sequence[Check]) -> str:
    """A list of reason structs for the rows of ``v`` (the CTE above): one per broken check."""
    items = ", ".join(
        f"CASE WHEN coalesce({c.failed}, false) THEN "
        f"{{'field': {literal(c.field)}, 'column': {literal(c.column)}, "
        f"'value': CAST({c.value} AS VARCHAR), 'rule': {literal(c.rule)}, 'message': {literal(c.message)}}} END"
        for c in checks
    )
    return f"list_filter([{items}], x -> x IS NOT NULL)" if checks else "[]"
