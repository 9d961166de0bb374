"""The ``justicelab`` command line: one module per command group.

Public surface: :data:`app` (the Typer application) and :func:`main` (the console script).
"""

from __future__ import annotations

import sys

from rich.markup import escape

from justicelab.cli.app import app
from justicelab.cli.output import err_console
from justicelab.errors import JusticelabError


def main() -> None:
    """Run the CLI; a JusticelabError is printed as a one-paragraph message and a non-zero exit."""
    try:
        app()
    except JusticelabError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)


__all__ = ["app", "main"]
