"""Lossless ingest: readers, mappings, validation compiled to SQL, quarantine, lineage and the batch log.

Public surface: :func:`load_mapping`, :func:`ingest_file`, :class:`BatchResult`, :class:`Mapping`,
:func:`mapping_json_schema`, :func:`stage_loadable` (ingest's reading and checks without a warehouse),
and the batch/quarantine queries in :mod:`justicelab.ingest.batches`.
"""

from justicelab.ingest.mapping import LoadedMapping, Mapping, load_mapping, mapping_json_schema, parse_mapping
from justicelab.ingest.pipeline import BatchResult, Progress, ingest_file, stage_loadable

__all__ = [
    "BatchResult",
    "LoadedMapping",
    "Mapping",
    "Progress",
    "ingest_file",
    "load_mapping",
    "mapping_json_schema",
    "parse_mapping",
    "stage_loadable",
]
