"""``justicelab read``: a dataset's rows through the gate, at the level each field is granted, recorded in the
audit ledger. Also the context every command that shows person-level rows opens (:func:`gated`)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import typer

from justicelab.cli.control_cmd import AsOption, acting, split_fields
from justicelab.cli.output import Format, FormatOption, emit, err_console
from justicelab.control import ControlDB, open_workspace_control
from justicelab.gate import read as gate_read
from justicelab.warehouse import Warehouse
from justicelab.workspace import Workspace

PurposeOption = typer.Option(..., "--purpose", help="Why you read: one of the purposes of the agreement your "
                             "grant is under, e.g. \"MDT case review\" (recorded in the audit ledger).")


@dataclass(frozen=True)
class Gated:
    """What a gated command works with: the workspace, its warehouse and control database, and who reads."""

    workspace: Workspace
    warehouse: Warehouse
    control: ControlDB
    user: str


@contextlib.contextmanager
def gated(as_user: str | None) -> Iterator[Gated]:
    """The acting user (``--as``, ``JUSTICELAB_USER`` or a verified ``JUSTICELAB_TOKEN``) and the workspace's
    warehouse and control database, for a command that reads person-level rows through the gate."""
    with acting(as_user) as (_, actor):
        username = actor.username
    ws = Workspace.find()
    control = open_workspace_control(ws)
    try:
        with Warehouse.open(ws.warehouse_url, root=ws.root) as wh:
            yield Gated(ws, wh, control, username)
    finally:
        control.close()


def emit_to(rows: pa.Table | Sequence[Mapping[str, Any]], fmt: Format, out: Path | None,
            title: str | None = None) -> None:
    """``emit`` to stdout, or into ``out`` (a table format is written as CSV there)."""
    if out is None:
        emit(rows, fmt, title)
        return
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        emit(rows, Format.csv if fmt is Format.table else fmt)
    out.write_text(buffer.getvalue(), encoding="utf-8")


def read_dataset(
    dataset: str = typer.Argument(..., help="The dataset (an entity of the standard), e.g. ed_visit."),
    purpose: str = PurposeOption,
    fields: str = typer.Option(None, "--fields", help="Comma-separated columns to read (default: all you may see)."),
    limit: int = typer.Option(None, "--limit", help="At most this many rows."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the rows to this file instead of the terminal."),
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """Read a dataset's rows through the gate: each field at the level your grants allow (identified as
    recorded, de-identified with pseudonyms and generalised values), only the rows your grants' row rules
    admit. Every read, allowed or denied, is recorded in the audit ledger; a denial says why and exits 3.

    Example: justicelab read ed_visit --as bob --purpose "MDT case review" --format csv --limit 100
    """
    with gated(as_user) as g:
        result = gate_read(g.warehouse, g.control, g.workspace, g.user, dataset, purpose,
                           fields=split_fields(fields), limit=limit)
    emit_to(result.table, fmt, out, f"{dataset} for {g.user} ({purpose})")
    levels = result.levels()
    summary = ", ".join(f"{lv.value}: {sum(1 for v in levels.values() if v is lv)}" for lv in
                        sorted(set(levels.values()), reverse=True))
    err_console.print(f"{result.row_count} rows of {dataset} read by {g.user} for {purpose!r} ({summary} columns); "
                      f"audit entry #{result.entry}" + (f"; written to {out}" if out else ""), highlight=False,
                      markup=False)
    for why in result.withheld:
        err_console.print(f"withheld: {why}", highlight=False, markup=False)
