"""Workspaces: a folder with ``justicelab.toml``, its mappings, data and warehouse (like a dbt project).

Every command works on the workspace found in the current folder or one of its parents.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from justicelab.errors import WorkspaceError, describe_validation_error

CONFIG_FILE = "justicelab.toml"
NAME = r"^[a-z][a-z0-9_]*$"


class SourceDecl(BaseModel):
    """One department extract the workspace ingests with ``justicelab ingest --all``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=NAME)]
    file: str
    mapping: str
    department: str | None = None
    description: str | None = None


class WorkspaceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    warehouse: str = Field("warehouse.duckdb", description="DuckDB file (relative to the workspace) or a "
                           "postgresql:// URL (append ?schema=NAME to use a schema)")
    control: str = Field("control.sqlite", description="Control-plane database: SQLite file or postgresql:// URL")
    require_login: bool = Field(False, description="Commands act only as a user who logged in (`justicelab "
                                "login`) or holds an API token; --as alone is refused")
    sources: list[SourceDecl] = []


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_config(config: WorkspaceConfig) -> str:
    """TOML text for a config (the format is small enough not to need a TOML writer)."""
    lines = [
        "# justicelab workspace: see `justicelab --help`.",
        "[workspace]",
        f"name = {_toml_str(config.name)}",
        f"warehouse = {_toml_str(config.warehouse)}",
        f"control = {_toml_str(config.control)}",
        *(["require_login = true"] if config.require_login else []),
    ]
    for s in config.sources:
        lines += ["", "[[sources]]", f"name = {_toml_str(s.name)}", f"file = {_toml_str(s.file)}",
                  f"mapping = {_toml_str(s.mapping)}"]
        if s.department:
            lines.append(f"department = {_toml_str(s.department)}")
        if s.description:
            lines.append(f"description = {_toml_str(s.description)}")
    return "\n".join(lines) + "\n"


class Workspace:
    def __init__(self, root: Path, config: WorkspaceConfig) -> None:
        self.root = root
        self.config = config

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    def path(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    @property
    def warehouse_url(self) -> str:
        # An environment override lets tests and deployments point a workspace at another warehouse.
        return os.environ.get("JUSTICELAB_WAREHOUSE_URL", self.config.warehouse)

    def source(self, name: str) -> SourceDecl:
        for s in self.config.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.config.sources) or "none"
        raise WorkspaceError(f"{self.config_path}: no source named {name!r} (declared: {known})")

    def add_source(self, decl: SourceDecl, *, replace: bool = False) -> None:
        existing = [s for s in self.config.sources if s.name == decl.name]
        if existing and not replace:
            raise WorkspaceError(f"{self.config_path}: a source named {decl.name!r} is already declared")
        self.config.sources = [s for s in self.config.sources if s.name != decl.name] + [decl]
        self.save()

    def save(self) -> None:
        self.config_path.write_text(render_config(self.config), encoding="utf-8")

    @classmethod
    def load(cls, root: Path) -> Workspace:
        path = root / CONFIG_FILE
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WorkspaceError(f"{path}: not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise WorkspaceError(f"{path}: not valid TOML: {exc}") from None
        body = dict(data.get("workspace", {}))
        body["sources"] = data.get("sources", [])
        try:
            config = WorkspaceConfig.model_validate(body)
        except ValidationError as exc:
            problems = describe_validation_error(exc)
            raise WorkspaceError(f"{path}: {problems}") from None
        return cls(root.resolve(), config)

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """The workspace at ``start`` (default: the current folder) or the nearest parent that has one."""
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return cls.load(folder)
        raise WorkspaceError(
            f"no {CONFIG_FILE} in {here} or its parents: run `justicelab init NAME` to create a workspace"
        )

    @classmethod
    def init(cls, root: Path, name: str | None = None) -> Workspace:
        """Create a new workspace folder with its config, mappings/ and data/."""
        if (root / CONFIG_FILE).exists():
            raise WorkspaceError(f"{root / CONFIG_FILE} already exists")
        root.mkdir(parents=True, exist_ok=True)
        for sub in ("mappings", "data", "releases"):
            (root / sub).mkdir(exist_ok=True)
        ws = cls(root.resolve(), WorkspaceConfig(name=name or root.resolve().name))
        ws.save()
        (root / ".gitignore").write_text("*.duckdb\n*.duckdb.wal\n*.sqlite\n", encoding="utf-8")
        return ws
