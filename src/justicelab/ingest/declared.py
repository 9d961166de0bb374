"""Ingest the sources a workspace declares in justicelab.toml (``justicelab ingest --all``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from justicelab.errors import JusticelabError
from justicelab.ingest.mapping import load_mapping
from justicelab.ingest.pipeline import BatchResult, Progress, ingest_file
from justicelab.standard import Standard, load_standard
from justicelab.warehouse import Warehouse
from justicelab.workspace import SourceDecl, Workspace


@dataclass
class SourceFailure:
    source: str
    error: str


def ingest_declared(
    workspace: Workspace,
    warehouse: Warehouse,
    names: Sequence[str] | None = None,
    *,
    standard: Standard | None = None,
    on_source: Callable[[SourceDecl], Progress] | None = None,
) -> tuple[list[BatchResult], list[SourceFailure]]:
    """Load each declared source as its own atomic batch; a failing source does not stop the others."""
    standard = standard or load_standard()
    decls = [workspace.source(n) for n in names] if names else list(workspace.config.sources)
    results: list[BatchResult] = []
    failures: list[SourceFailure] = []
    for decl in decls:
        progress = on_source(decl) if on_source else None
        try:
            loaded = load_mapping(workspace.path(decl.mapping), standard)
            # The declaration names the source, whatever the mapping file calls itself.
            loaded = loaded.model_copy(update={"source_name": decl.name})
            results.append(
                ingest_file(warehouse, workspace.path(decl.file), loaded, department=decl.department,
                            standard=standard, progress=progress)
            )
        except JusticelabError as exc:
            failures.append(SourceFailure(decl.name, str(exc)))
    return results, failures
