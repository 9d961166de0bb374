"""The warehouse: standard tables on DuckDB (default) or PostgreSQL, through Ibis.

Public surface: :class:`Warehouse`, :class:`Generaliser`, :func:`create_all`, the table-name constants and schemas.
"""

from justicelab.warehouse.connection import Warehouse
from justicelab.warehouse.generalise import Generaliser
from justicelab.warehouse.tables import (
    BATCHES,
    CHANGES,
    QUARANTINE,
    SYSTEM_COLUMNS,
    create_all,
    ensure_entity_table,
    ensure_ingest_tables,
    entity_schema,
)

__all__ = [
    "BATCHES",
    "CHANGES",
    "QUARANTINE",
    "SYSTEM_COLUMNS",
    "Generaliser",
    "Warehouse",
    "create_all",
    "ensure_entity_table",
    "ensure_ingest_tables",
    "entity_schema",
]
