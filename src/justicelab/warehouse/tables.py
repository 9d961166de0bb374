"""Table definitions: one warehouse table per entity type of the standard, plus the ingest log tables."""

from __future__ import annotations

import ibis

from justicelab.standard import FieldType, ResolvedEntity, Standard
from justicelab.warehouse.connection import Warehouse

_IBIS_TYPES = {
    FieldType.string: "string",
    FieldType.integer: "int64",
    FieldType.number: "float64",
    FieldType.boolean: "boolean",
    FieldType.date: "date",
    FieldType.timestamp: "timestamp",
}

# Lineage columns every loaded row carries.
SYSTEM_COLUMNS: dict[str, str] = {
    "_record_id": "string",  # source name + natural key: stable across re-deliveries
    "_source": "string",
    "_batch_id": "int64",
    "_source_row": "int64",
}

BATCHES = "ingest_batches"
QUARANTINE = "ingest_quarantine"
CHANGES = "ingest_changes"

BATCH_SCHEMA = ibis.schema(
    {
        "batch_id": "int64",
        "source": "string",
        "entity": "string",
        "department": "string",
        "file_path": "string",
        "file_sha256": "string",
        "file_bytes": "int64",
        "mapping_path": "string",
        "mapping_sha256": "string",
        "format": "string",
        "encoding": "string",
        "delimiter": "string",
        "header_row": "int64",
        "started_at": "timestamp",
        "finished_at": "timestamp",
        "rows_read": "int64",
        "rows_loaded": "int64",
        "rows_inserted": "int64",
        "rows_updated": "int64",
        "rows_unchanged": "int64",
        "rows_quarantined": "int64",
        "notes": "string",
    }
)
QUARANTINE_SCHEMA = ibis.schema(
    {
        "batch_id": "int64",
        "source": "string",
        "entity": "string",
        "source_row": "int64",
        "record": "string",  # the source row as a JSON object of its columns, exactly as read
        "reasons": "string",  # JSON array of {field, column, value, rule, message}
    }
)
CHANGES_SCHEMA = ibis.schema(
    {
        "batch_id": "int64",
        "previous_batch_id": "int64",
        "entity": "string",
        "record_id": "string",
        "field": "string",
        "old_value": "string",
        "new_value": "string",
    }
)


def entity_schema(entity: ResolvedEntity) -> ibis.Schema:
    cols = dict(SYSTEM_COLUMNS)
    cols.update({f.name: _IBIS_TYPES[f.type] for f in entity.fields})
    return ibis.schema(cols)


def ensure_entity_table(warehouse: Warehouse, entity: ResolvedEntity) -> None:
    warehouse.ensure_table(entity.name, entity_schema(entity))


def ensure_ingest_tables(warehouse: Warehouse) -> None:
    warehouse.ensure_table(BATCHES, BATCH_SCHEMA)
    warehouse.ensure_table(QUARANTINE, QUARANTINE_SCHEMA)
    warehouse.ensure_table(CHANGES, CHANGES_SCHEMA)


def create_all(warehouse: Warehouse, standard: Standard) -> None:
    """Create every standard table and the ingest log tables (idempotent)."""
    ensure_ingest_tables(warehouse)
    for entity in standard.entities.values():
        ensure_entity_table(warehouse, entity)
