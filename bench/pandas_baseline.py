"""The baseline an agency analyst would write: pandas.read_csv, the same checks in pandas, DataFrame.to_sql.

It reads the same mapping and standard as justicelab, applies the same transforms and the
same validation rules (required, type, code list, range, length, pattern, cross-field,
duplicate natural key), keeps source row numbers and the batch id as lineage, and writes
the valid rows and the quarantined rows with their reasons to SQLite with ``to_sql``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from justicelab.ingest.mapping import FieldMapping, LoadedMapping
from justicelab.standard import FieldType, Standard, load_standard

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _text(df: pd.DataFrame, fm: FieldMapping, null_values: list[str]) -> pd.Series:
    if fm.constant is not None:
        return pd.Series(str(fm.constant), index=df.index, dtype=object)
    parts = []
    for col in fm.source_columns():
        s = df[col].str.strip() if fm.trim else df[col]
        parts.append(s.mask(s.isin(null_values)))
    s = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1).apply(
        lambda r: fm.separator.join(v for v in r if isinstance(v, str)) or None, axis=1)
    if fm.split_name:
        has_comma = s.str.contains(",", regex=False, na=False)
        last = s.str.split(",", n=1).str[0].str.strip()
        rest = s.str.split(",", n=1).str[1].str.lstrip()
        if fm.split_name == "last":
            s = last.where(has_comma, s)
        elif fm.split_name == "first":
            s = rest.str.split(" ", n=1).str[0].where(has_comma)
        else:
            s = rest.str.split(" ", n=1).str[1].str.strip().where(has_comma)
        s = s.mask(s == "")
    if fm.case == "upper":
        s = s.str.upper()
    elif fm.case == "lower":
        s = s.str.lower()
    elif fm.case == "title":
        s = s.str.title()
    if fm.code_map:
        s = s.map(lambda v: fm.code_map.get(v, v) if isinstance(v, str) else v)  # type: ignore[union-attr]
    if fm.default is not None:
        s = s.fillna(str(fm.default))
    return s


def _typed(text: pd.Series, ftype: FieldType, fm: FieldMapping) -> pd.Series:
    if ftype is FieldType.string:
        return text
    if ftype in (FieldType.integer, FieldType.number):
        num = pd.to_numeric(text, errors="coerce")
        if ftype is FieldType.integer:
            num = num.where(num == np.floor(num))
        return num
    if ftype is FieldType.boolean:
        low = text.str.lower()
        return low.map(lambda v: True if v in _TRUE else (False if v in _FALSE else None))
    formats = [fm.date_format] if isinstance(fm.date_format, str) else (fm.date_format or [None])
    out = pd.Series(pd.NaT, index=text.index)
    for f in formats:
        parsed = pd.to_datetime(text, format=f, errors="coerce") if f else pd.to_datetime(text, errors="coerce")
        out = out.fillna(parsed)
    if any(f and "%y" in f for f in formats):
        future = out > pd.Timestamp.now()
        out = out.where(~future, out - pd.DateOffset(years=100))
    return out.dt.normalize() if ftype is FieldType.date else out


def ingest_with_pandas(csv_path: Path, loaded: LoadedMapping, db_path: Path, batch_id: int = 1,
                       standard: Standard | None = None) -> dict[str, int]:
    """Load one CSV the pandas way; returns read/loaded/quarantined counts."""
    standard = standard or load_standard()
    m = loaded.mapping
    entity = standard.entity(m.entity)
    sep = m.source.delimiter or ","
    df = pd.read_csv(csv_path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8",
                     on_bad_lines="skip", skiprows=m.source.header_row - 1)
    df.index = pd.RangeIndex(m.source.header_row + 1, m.source.header_row + 1 + len(df))  # source rows
    read = len(df)
    reasons: dict[int, list[dict]] = {}

    def fail(mask: pd.Series, field: str, rule: str, message: str) -> None:
        for row in mask[mask.fillna(False).astype(bool)].index:
            reasons.setdefault(int(row), []).append({"field": field, "rule": rule, "message": message})

    out = pd.DataFrame(index=df.index)
    today = pd.Timestamp(dt.date.today())
    for name, fm in m.field_mappings.items():
        f = entity.field(name)
        text = _text(df, fm, m.source.null_values)
        value = _typed(text, f.type, fm)
        if f.required:
            fail(text.isna(), name, "required", f"{name} is required")
        if f.type is not FieldType.string:
            fail(text.notna() & value.isna(), name, "type", f"expected {f.type.value}")
        if f.codelist:
            codes = set(standard.codelist(f.codelist).values())
            fail(value.notna() & ~value.isin(codes), name, "codelist", f"expected a code of {f.codelist}")
        for bound, op, rule in ((f.minimum, "lt", "minimum"), (f.maximum, "gt", "maximum")):
            if bound is None:
                continue
            b = today if bound == "today" else (pd.Timestamp(bound) if isinstance(bound, dt.date) else bound)
            fail(getattr(value, op)(b), name, rule, f"{rule} {bound}")
        if f.max_length is not None:
            fail(value.str.len() > f.max_length, name, "max_length", "too long")
        if f.pattern is not None:
            fail(value.notna() & ~value.astype(str).str.fullmatch(f.pattern), name, "pattern", "pattern")
        out[name] = value
    for rule in entity.rules:
        if rule.left in out and rule.right in out:
            left, right = out[rule.left], out[rule.right]
            ok = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
                  "=": left == right, "!=": left != right}[rule.op]
            fail(left.notna() & right.notna() & ~ok, rule.left, rule.name, rule.message)
    key = out[list(loaded.key)].astype(str).agg("|".join, axis=1)
    out.insert(0, "_record_id", loaded.source_name + ":" + key)
    bad = out.index.isin(list(reasons))
    dup = out["_record_id"].duplicated() & ~bad
    fail(pd.Series(dup, index=out.index), ",".join(loaded.key), "duplicate_key", "duplicate natural key")
    bad = out.index.isin(list(reasons))
    good = out[~bad].copy()
    good.insert(1, "_source", loaded.source_name)
    good.insert(2, "_batch_id", batch_id)
    good.insert(3, "_source_row", good.index)
    quarantine = pd.DataFrame({
        "batch_id": batch_id,
        "source_row": sorted(reasons),
        "record": [json.dumps(df.loc[r].to_dict()) for r in sorted(reasons)],
        "reasons": [json.dumps(reasons[r]) for r in sorted(reasons)],
    })
    with sqlite3.connect(db_path) as con:
        good.to_sql(entity.name, con, if_exists="append", index=False, chunksize=100_000)
        quarantine.to_sql("ingest_quarantine", con, if_exists="append", index=False)
    return {"read": read, "loaded": len(good), "quarantined": len(quarantine)}
