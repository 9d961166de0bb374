"""Pseudonyms computed in DuckDB are exactly HMAC-SHA256 (Python's hmac as the oracle), keyed per grantee."""

from __future__ import annotations

import hashlib
import hmac
import re

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from justicelab.errors import GateError
from justicelab.gate import GateSecret, Pseudonymiser, grantee_key, reference_pseudonym
from justicelab.gate.pseudonyms import HEX_CHARS, PREFIX

SECRET = GateSecret(b"\x07" * 32)
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=80)


def in_duckdb(values: list[str | None], grantee: str = "user:alice", domain: str = "person_id") -> list[str | None]:
    table = ibis.memtable({"v": values}, schema={"v": "string"})
    pseudonymiser = Pseudonymiser(grantee_key(SECRET, grantee), "duckdb")
    return table.select(p=pseudonymiser.expr(table.v, domain)).to_pyarrow().column("p").to_pylist()


def oracle(grantee: str, domain: str, value: str) -> str:
    """The construction written out with the standard library alone."""
    k = hmac.new(b"\x07" * 32, f"justicelab/gate/pseudonym/v1:{grantee}".encode(), hashlib.sha256).digest()
    return "p_" + hmac.new(k, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()[:20]


@settings(max_examples=30, deadline=None)
@given(values=st.lists(TEXT, min_size=1, max_size=20))
def test_duckdb_computes_hmac_sha256_of_any_text(values):
    got = in_duckdb(values)
    assert got == [oracle("user:alice", "person_id", v) for v in values]
    assert got == [reference_pseudonym(grantee_key(SECRET, "user:alice"), "person_id", v) for v in values]


def test_format_missing_values_and_integer_keys():
    out = in_duckdb(["P000001", None, "", "GARCÍA O'BRIEN ✓"])
    assert out[1] is None
    assert all(re.fullmatch(rf"{PREFIX}[0-9a-f]{{{HEX_CHARS}}}", p) for p in out if p is not None)
    table = ibis.memtable({"n": [1, 22, None]}, schema={"n": "int64"})
    got = table.select(p=Pseudonymiser(grantee_key(SECRET, "user:alice"), "duckdb").expr(table.n, "_batch_id"))
    assert got.to_pyarrow().column("p").to_pylist() == [oracle("user:alice", "_batch_id", "1"),
                                                        oracle("user:alice", "_batch_id", "22"), None]


def test_grantees_and_columns_get_unrelated_pseudonyms_of_the_same_value():
    alice, bob = in_duckdb(["P000001"], "user:alice"), in_duckdb(["P000001"], "user:bob")
    other_column = in_duckdb(["P000001"], "user:alice", domain="source_person_id")
    assert alice != bob and alice != other_column
    assert in_duckdb(["P000001"], "user:alice") == alice
    # Keys depend on the workspace secret: another workspace's alice gets other pseudonyms.
    other = reference_pseudonym(grantee_key(GateSecret(b"\x08" * 32), "user:alice"), "person_id", "P000001")
    assert other != alice[0]


def test_keys_need_a_grantee_and_a_supported_engine():
    with pytest.raises(GateError, match="needs a grantee"):
        grantee_key(SECRET, "")
    with pytest.raises(GateError, match="on duckdb and postgres only, not on sqlite"):
        Pseudonymiser(grantee_key(SECRET, "user:alice"), "sqlite")
    assert "key" not in repr(grantee_key(SECRET, "user:alice")).replace("GranteeKey", "")
