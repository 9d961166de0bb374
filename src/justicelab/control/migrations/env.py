"""Alembic environment: runs on the connection :func:`justicelab.control.database.upgrade_to_head` passes in."""

from __future__ import annotations

from alembic import context

from justicelab.control.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
