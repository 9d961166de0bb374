"""Shared fixtures: a DuckDB warehouse per test, the real PostgreSQL server and OpenJustice files when present.

CI sets JUSTICELAB_REQUIRE_SERVICES=1: there a missing server or data folder fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from justicelab.ingest import LoadedMapping, parse_mapping
from justicelab.warehouse import Warehouse

REQUIRE = os.environ.get("JUSTICELAB_REQUIRE_SERVICES") == "1"
OPENJUSTICE = Path(os.environ.get("JUSTICELAB_OPENJUSTICE_DIR",
                                  Path(__file__).resolve().parents[2] / "shared" / "data" / "openjustice"))


@pytest.fixture(autouse=True)
def own_login_sessions(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Command-line login sessions in a file of the test's own, never the developer's."""
    monkeypatch.setenv("JUSTICELAB_SESSIONS", str(tmp_path_factory.mktemp("sessions") / "sessions.json"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow (scale checks) run only with `-m slow` or JUSTICELAB_SLOW=1."""
    if "slow" in (config.getoption("-m") or "") or os.environ.get("JUSTICELAB_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or JUSTICELAB_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def need(condition: bool, why: str) -> None:
    """Skip when a real service or file is missing, except in CI where it is a failure."""
    if not condition:
        if REQUIRE:
            pytest.fail(f"required for CI but missing: {why}")
        pytest.skip(why)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    wh = Warehouse.open(str(tmp_path / "warehouse.duckdb"))
    yield wh
    wh.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the real PostgreSQL server, dropped afterwards."""
    base = os.environ.get("JUSTICELAB_TEST_POSTGRES_URL")
    need(bool(base), "JUSTICELAB_TEST_POSTGRES_URL is not set")
    assert base
    import psycopg

    schema = f"jl_test_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}schema={schema}"
    with psycopg.connect(base.split("?")[0], autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def openjustice_dir() -> Path:
    need(OPENJUSTICE.is_dir(), f"OpenJustice files not found at {OPENJUSTICE}")
    return OPENJUSTICE


def make_mapping(tmp_path: Path, body: dict, name: str = "bookings") -> LoadedMapping:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return parse_mapping(body, path)


BOOKING_MAPPING: dict = {
    "entity": "booking",
    "name": "jail",
    "department": "sheriff",
    "natural_key": ["booking_number"],
    "fields": {
        "booking_number": "BOOK_NO",
        "last_name": {"column": "NAME", "split_name": "last"},
        "first_name": {"column": "NAME", "split_name": "first"},
        "date_of_birth": {"column": "DOB", "date_format": "%m/%d/%Y"},
        "sex": {"column": "SEX", "default": "U"},
        "booking_datetime": {"column": "BOOKED", "date_format": "%m/%d/%Y %H:%M"},
        "release_datetime": {"column": "RELEASED", "date_format": "%m/%d/%Y %H:%M"},
    },
}
BOOKING_HEADER = ["BOOK_NO", "NAME", "DOB", "SEX", "BOOKED", "RELEASED"]
