"""The privacy commands read warehouse datasets through the gate: a reader with a grant, and what the ledger holds.

:func:`allow` sets up, with :func:`tests.gate.access.grant_workspace`, an admin (root), the owning department
(doj), the reader ``ana`` (an analyst of doj), an agreement for purpose ``research`` and a grant at ``level``;
:data:`AS_READER` is the ``--as``/``--purpose`` pair every command then takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from justicelab.control import entries, open_workspace_control
from justicelab.workspace import Workspace
from tests.gate.access import grant_workspace

READER, PURPOSE = "ana", "research"
AS_READER = ("--as", READER, "--purpose", PURPOSE)


def allow(root: Path, datasets: tuple[str, ...] = ("custody_death",), level: str = "identified",
          user: str = READER) -> None:
    """Grant ``user`` ``level`` access to ``datasets`` (owned by doj) for purpose research."""
    grant_workspace(root, dict.fromkeys(datasets, "doj"), user, PURPOSE, level)


def ledger(root: Path, action: str) -> list[dict[str, Any]]:
    """The audit-ledger entries of exactly ``action`` (``read`` or ``read.denied``), oldest first."""
    db = open_workspace_control(Workspace.load(root))
    try:
        with db.session() as s:
            return [{"actor": e.actor, "target": e.target, "details": e.details_dict}
                    for e in entries(s, action=action) if e.action == action]
    finally:
        db.close()
