"""Migrations: an empty database upgrades to head, and the models and the migrations describe one schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from justicelab.control.database import current_revision, head_revision, open_control, upgrade_to_head
from justicelab.control.models import Base


def schema_differences(db) -> list:
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_empty_database_upgrades_to_head_and_matches_the_models(tmp_path):
    empty = open_control(str(tmp_path / "c.sqlite"), upgrade=False)
    assert current_revision(empty) is None
    upgrade_to_head(empty)
    assert current_revision(empty) == head_revision()
    assert set(inspect(empty.engine).get_table_names()) >= set(Base.metadata.tables)
    assert schema_differences(empty) == []
    upgrade_to_head(empty)  # at head already: nothing to do
    empty.close()
