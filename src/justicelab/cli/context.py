"""Opening the current workspace and its warehouse for a command."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from justicelab.warehouse import Warehouse
from justicelab.workspace import Workspace


@contextlib.contextmanager
def open_warehouse(workspace: Workspace | None = None) -> Iterator[tuple[Workspace, Warehouse]]:
    ws = workspace or Workspace.find()
    wh = Warehouse.open(ws.warehouse_url, root=ws.root)
    try:
        yield ws, wh
    finally:
        wh.close()
