"""Adapters for real external formats (California DOJ OpenJustice files, Department of Finance population).

Each adapter turns its files into standard tables through the ingest pipeline (batches, quarantine,
lineage), with a mapping wherever a mapping can express the file and code only where it cannot.
"""
