"""Opening the control-plane database (SQLite file or PostgreSQL URL) and upgrading it to the latest schema.

Migrations ship inside the package and run programmatically when a database is first opened: users never
need an ``alembic.ini``. Every SQLite transaction begins with ``BEGIN IMMEDIATE`` (it takes the write lock
at once), so two processes never interleave read-then-write sequences such as ledger appends.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from justicelab.control.errors import ControlError
from justicelab.workspace import Workspace

MIGRATIONS = Path(__file__).with_name("migrations")
#: Any fixed number: PostgreSQL advisory lock that serialises migrations of one database.
_MIGRATION_LOCK = 0x6A6C_C0DE


def control_url(config_value: str) -> str:
    """The control database a workspace uses: ``JUSTICELAB_CONTROL_URL`` overrides the workspace setting."""
    return os.environ.get("JUSTICELAB_CONTROL_URL", config_value)


def _sqlalchemy_url(url: str, root: Path | None) -> tuple[URL, str | None]:
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
        schema = parsed.query.get("schema")
        if isinstance(schema, tuple):
            schema = schema[-1]
        if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", schema):
            raise ControlError(f"control URL: schema {schema!r} must be a plain SQL name")
        return parsed.difference_update_query(["schema"]).set(drivername="postgresql+psycopg"), schema
    if url.startswith("sqlite:"):
        return make_url(url), None
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if scheme:  # a URL of another database, not a file path: refuse rather than make a file named after it
        raise ControlError(f"control database {url!r}: the {scheme.group(1)} scheme is not supported; expected "
                           "postgresql://..., sqlite:///PATH or a file path")
    path = Path(url)
    if root is not None and not path.is_absolute():
        path = root / path
    return URL.create("sqlite", database=str(path)), None


class ControlDB:
    """An open control-plane database: an engine, its sessions, and its kind (``sqlite`` or ``postgresql``)."""

    def __init__(self, engine: Engine, schema: str | None = None) -> None:
        self.engine = engine
        self.schema = schema
        self.kind = engine.dialect.name
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits when the block ends normally, rolls back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ControlDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL, schema: str | None) -> Engine:
    args: dict[str, Any] = {}
    if schema:
        args["options"] = f"-csearch_path={schema}"
    engine = create_engine(url, connect_args=args, pool_pre_ping=True)
    if schema:  # create it if missing (an application role without CREATE rights uses an existing one)
        with engine.begin() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}) is None:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return engine


def open_control(url: str, root: Path | None = None, *, upgrade: bool = True) -> ControlDB:
    """Open the control database at ``url`` (a SQLite path relative to ``root``, ``sqlite:///...`` or
    ``postgresql://...?schema=NAME``), creating or upgrading it to the latest migration unless told not to."""
    sa_url, schema = _sqlalchemy_url(url, root)
    try:
        if sa_url.get_backend_name() == "sqlite":
            if sa_url.database and sa_url.database != ":memory:":
                Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = _sqlite_engine(sa_url)
        else:
            engine = _postgres_engine(sa_url, schema)
    except ControlError:
        raise
    except Exception as exc:
        raise ControlError(f"cannot open the control database {url}: {exc}") from None
    db = ControlDB(engine, schema)
    if upgrade:
        upgrade_to_head(db)
    return db


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of justicelab."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(db: ControlDB) -> str | None:
    """The migration the database is at (None: empty database)."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(db: ControlDB) -> None:
    """Create or upgrade the schema, in one transaction (PostgreSQL: under an advisory lock)."""
    from alembic import command

    try:
        if current_revision(db) == head_revision():
            return
        with db.engine.begin() as conn:
            if db.kind == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            command.upgrade(_alembic_config(conn), "head")
    except Exception as exc:
        raise ControlError(f"cannot create or upgrade the control database {db.engine.url!r}: {exc}") from exc


def open_workspace_control(workspace: Workspace) -> ControlDB:
    """The control database of a workspace (its ``control`` setting, or ``JUSTICELAB_CONTROL_URL``)."""
    return open_control(control_url(workspace.config.control), workspace.root)
