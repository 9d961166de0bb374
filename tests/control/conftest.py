"""A fresh SQLite control plane per test, optionally seeded with departments, users, datasets and an agreement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from justicelab.control import ControlDB, open_control
from tests.control.scenarios import seed


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ControlDB]:
    control = open_control(str(tmp_path / "control.sqlite"))
    yield control
    control.close()


@pytest.fixture
def seeded(db: ControlDB, tmp_path: Path) -> ControlDB:
    seed(db, tmp_path)
    return db


@pytest.fixture(autouse=True)
def quick_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id hashes with small cost parameters, so tests creating users stay fast."""
    from argon2 import PasswordHasher

    from justicelab.control import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
