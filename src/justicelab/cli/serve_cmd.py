"""``justicelab serve``: the HTTP API over the current workspace (token-authenticated reads through the gate)."""

from __future__ import annotations

import typer

from justicelab.workspace import Workspace


def serve(host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (127.0.0.1: this machine "
                                   "only; put a TLS-terminating proxy in front before listening wider)."),
          port: int = typer.Option(8000, "--port", help="TCP port.")) -> None:
    """Serve the API: POST /api/v1/login, GET /api/v1/datasets/DATASET/rows?purpose=..., and the rest described
    by /openapi.json. Every call but login needs an API token (Authorization: Bearer TOKEN); its owner is the reader.

    Example: justicelab serve --port 8000
    """
    import uvicorn

    from justicelab.web import create_app

    uvicorn.run(create_app(Workspace.find().root), host=host, port=port, log_level="info")
