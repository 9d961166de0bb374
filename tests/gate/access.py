"""A control plane for reading the sample citation table through the gate: departments, users, an agreement.

root (admin); police: pat (steward), rita (researcher), ray (researcher); health: alice (steward), bob
(mdt_member); the citation dataset owned by police; agreement ``dsa`` (police and health, purposes
"MDT case review" and "research", citation fully covered, identified at most, cells of 11) in force from
400 days ago to 400 days ahead.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from justicelab.control import ControlDB, open_workspace_control
from justicelab.control.accounts import add_department, add_user, get_user, list_departments, user_count
from justicelab.control.agreements import add_agreement
from justicelab.control.consent import record_consent
from justicelab.control.datasets import add_dataset, list_datasets
from justicelab.control.grants import add_grant
from justicelab.control.periods import utcnow
from justicelab.warehouse import Warehouse, ensure_entity_table, entity_schema
from justicelab.workspace import Workspace
from tests.gate.sample import AGENCY_COUNTY, STANDARD, load_citations

TODAY = utcnow().date()
START, END = TODAY - dt.timedelta(days=400), TODAY + dt.timedelta(days=400)
PURPOSES = ["MDT case review", "research"]


def agreement(folder: Path, code: str = "dsa", **overrides: Any) -> Path:
    """Write an agreement covering the citation dataset; ``overrides`` replace any key."""
    body: dict[str, Any] = {
        "id": code, "title": f"{code} citation sharing", "parties": ["police", "health"], "purposes": PURPOSES,
        "datasets": [{"dataset": "citation"}], "maximum_level": "identified", "minimum_cell_size": 11,
        "onward_sharing": False, "legal_basis": "city MDT ordinance", "start": START, "end": END,
    }
    body.update(overrides)
    path = folder / f"{code}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def seed_citation_access(db: ControlDB, folder: Path) -> None:
    """Departments, users, the citation dataset and agreement dsa (see the module doc)."""
    with db.session() as s:
        root = add_user(s, None, "root", roles=["admin"])
        for code in ("police", "health"):
            add_department(s, root, code, code.title())
        add_user(s, root, "pat", roles=["steward"], departments=["police"])
        add_user(s, root, "rita", roles=["researcher"], departments=["police"])
        add_user(s, root, "ray", roles=["researcher"], departments=["police"])
        add_user(s, root, "alice", roles=["steward"], departments=["health"])
        add_user(s, root, "bob", roles=["mdt_member"], departments=["health"])
        add_dataset(s, root, "citation", "police")
        add_agreement(s, get_user(s, "pat"), agreement(folder))


def grant(db: ControlDB, **kwargs: Any) -> int:
    """Add a grant on citation as pat (police steward) under dsa; returns its id."""
    body = {"dataset": "citation", "agreement": "dsa", **kwargs}
    with db.session() as s:
        return add_grant(s, get_user(s, "pat"), **body).id


def load_agencies(warehouse: Warehouse) -> None:
    """The agency directory the sample's agencies resolve to counties through (the ``place`` hierarchy)."""
    entity = STANDARD.entity("agency")
    ensure_entity_table(warehouse, entity)
    schema = entity_schema(entity).to_pyarrow()
    rows = [{"agency_code": code, "name": code, "county": county, "_record_id": f"agencies:{code}",
             "_source": "agencies", "_batch_id": 1, "_source_row": i + 2}
            for i, (code, county) in enumerate(AGENCY_COUNTY.items())]
    warehouse.insert_arrow("agency", pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows],
                                                          schema=schema))


def grant_workspace(root: Path, datasets: dict[str, str], user: str, purpose: str,
                    level: str = "identified") -> None:
    """On the workspace at ``root``: an admin (root) if there is none yet, the owning departments, ``user`` (an
    analyst of the first owner), the datasets, an agreement ``ws_USER`` for ``purpose`` covering them, and a
    grant at ``level`` to ``user`` on each (none when ``datasets`` is empty)."""
    db = open_workspace_control(Workspace.load(root))
    try:
        with db.session() as s:
            if user_count(s) == 0:
                add_user(s, None, "root", roles=["admin"])
            admin = get_user(s, "root")
            known = {d.code for d in list_departments(s)}
            for owner in sorted(set(datasets.values()) - known):
                add_department(s, admin, owner, owner.title())
            department = next(iter(datasets.values()), None) or sorted(known)[0]
            add_user(s, admin, user, roles=["analyst"], departments=[department])
            registered = {d.name for d in list_datasets(s)}
            for name, owner in datasets.items():
                if name not in registered:
                    add_dataset(s, admin, name, owner)
            if datasets:
                add_agreement(s, admin, agreement(root, f"ws_{user}", parties=sorted(set(datasets.values())),
                                                  purposes=[purpose], datasets=[{"dataset": d} for d in datasets]))
            for name in datasets:
                add_grant(s, admin, dataset=name, principal=f"user:{user}", level=level, agreement=f"ws_{user}")
    finally:
        db.close()


def new_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str = "city") -> Path:
    """``justicelab init NAME`` in ``tmp_path``, entered, with no acting user in the environment."""
    from tests.cli.test_cli import run  # (tests.cli.test_cli imports this module)

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JUSTICELAB_USER", raising=False)
    monkeypatch.delenv("JUSTICELAB_TOKEN", raising=False)
    run("init", name)
    monkeypatch.chdir(tmp_path / name)
    return tmp_path / name


def citation_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with the sample citations and agencies, the citation control plane, and two grants to bob:
    de-identified for MDT members, identified names and dates for persons with a current MDT consent."""
    root = new_workspace(tmp_path, monkeypatch)
    with Warehouse.open(str(root / "warehouse.duckdb")) as wh:
        load_citations(wh)
        load_agencies(wh)
    db = open_workspace_control(Workspace.load(root))
    seed_citation_access(db, root)
    grant(db, principal="role:mdt_member", level="deidentified", purpose="MDT case review")
    grant(db, principal="user:bob", level="identified", fields=["last_name", "first_name", "citation_date"],
          row_rule="consent: {program: mdt, scope: cori}", purpose="MDT case review")
    with db.session() as s:
        record_consent(s, get_user(s, "pat"), "P000002", program="mdt", scope="cori")
    db.close()
    return root
