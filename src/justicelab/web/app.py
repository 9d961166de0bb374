"""The HTTP API: person-level reads through the gate, for callers holding an API token.

Every route but ``login`` needs ``Authorization: Bearer TOKEN``; the token's owner is the reader, so there is
no way to name another user. Reads go through :func:`justicelab.gate.read` exactly as the CLI's do: one
ledger entry per read, allowed or refused, and a refusal (``403``) says why.

    POST /api/v1/login                        {"username", "password", "hours"} -> a session token
    POST /api/v1/logout                       revokes the token presented
    GET  /api/v1/whoami
    GET  /api/v1/datasets/{dataset}/access?purpose=P      what you may see, field by field, and why
    GET  /api/v1/datasets/{dataset}/rows?purpose=P[&fields=a,b][&limit=N][&format=csv]
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import pyarrow.csv as pa_csv
from fastapi import Depends, FastAPI, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from justicelab.control import ControlDB, ControlError, NotPermitted, open_workspace_control
from justicelab.control.accounts import MAX_SESSION_HOURS, get_user, revoke_token
from justicelab.errors import AccessDenied, GateError, StandardError
from justicelab.gate import access_report
from justicelab.gate import read as gate_read
from justicelab.warehouse import Warehouse
from justicelab.web.auth import Caller, caller, login
from justicelab.workspace import Workspace


class Login(BaseModel):
    username: str
    password: str = Field(repr=False)
    hours: float = MAX_SESSION_HOURS


class Services:
    """What the routes share: the workspace, its control plane, and one warehouse connection used by one
    request at a time (a DuckDB connection is not safe across threads; its pseudonym cache lives on it)."""

    def __init__(self, root: Path) -> None:
        self.workspace = Workspace.load(root)
        self.control: ControlDB = open_workspace_control(self.workspace)
        self.warehouse = Warehouse.open(self.workspace.warehouse_url, root=self.workspace.root)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Warehouse]:
        with self._lock:
            yield self.warehouse

    def close(self) -> None:
        self.warehouse.close()
        self.control.close()


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def who(request: Request) -> Caller:
    return caller(services_of(request).control, request)


Authenticated = Annotated[Caller, Depends(who)]
Purpose = Annotated[str, Query(description="Why you read: one of the purposes of your grant's agreement.")]


def create_app(root: Path) -> FastAPI:
    """The API over the workspace at ``root``."""
    services = Services(root)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    # No /docs or /redoc: FastAPI's pages load their scripts from a CDN (invariant 7); /openapi.json stays.
    app = FastAPI(title="justicelab", summary="Person-level reads through the gate", lifespan=lifespan,
                  docs_url=None, redoc_url=None)

    app.state.services = services

    @app.exception_handler(AccessDenied)
    async def denied(_: Request, exc: AccessDenied) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_403_FORBIDDEN)

    @app.exception_handler(NotPermitted)
    async def not_permitted(_: Request, exc: NotPermitted) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_403_FORBIDDEN)

    @app.exception_handler(StandardError)
    async def unknown(_: Request, exc: StandardError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(GateError)
    @app.exception_handler(ControlError)
    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 422)

    @app.post("/api/v1/login")
    def login_route(body: Login) -> dict[str, Any]:
        token, token_id, expires = login(services.control, body.username, body.password, body.hours)
        return {"token": token, "token_id": token_id, "expires_at": expires.isoformat(), "user": body.username}

    @app.post("/api/v1/logout")
    def logout_route(me: Authenticated) -> dict[str, Any]:
        token_id = me.token.split("_")[1]
        with services.control.session() as session:
            revoke_token(session, get_user(session, me.username), token_id)
        return {"revoked": token_id}

    @app.get("/api/v1/whoami")
    def whoami(me: Authenticated) -> dict[str, Any]:
        with services.control.session() as session:
            user = get_user(session, me.username)
            return {"user": user.username, "roles": user.roles, "departments": user.department_codes}

    @app.get("/api/v1/datasets/{dataset}/access")
    def access(dataset: str, me: Authenticated, purpose: Purpose | None = None) -> list[dict[str, Any]]:
        with services.control.session() as session:
            report = access_report(session, get_user(session, me.username), me.username, dataset, purpose)
        return report.as_dict()

    @app.get("/api/v1/datasets/{dataset}/rows", response_model=None)
    def rows(dataset: str, me: Authenticated, purpose: Purpose,
             fields: Annotated[str | None, Query(description="Comma-separated columns (default: all you may see).")]
             = None,
             limit: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
             format: Annotated[str, Query(pattern="^(json|csv)$")] = "json") -> Response | dict[str, Any]:
        asked = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        with services.reading() as warehouse:
            result = gate_read(warehouse, services.control, services.workspace, me.username, dataset, purpose,
                               fields=asked, limit=limit)
        headers = {"X-Audit-Entry": str(result.entry), "X-Row-Count": str(result.row_count)}
        if format == "csv":
            buffer = io.BytesIO()
            pa_csv.write_csv(result.table, buffer)
            return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
        levels = {column: level.value for column, level in result.levels().items()}
        body = {"dataset": dataset, "purpose": purpose, "rows": result.table.to_pylist(), "levels": levels,
                "row_count": result.row_count, "withheld": list(result.withheld), "audit_entry": result.entry}
        return JSONResponse(jsonable_encoder(body), headers=headers)

    return app

