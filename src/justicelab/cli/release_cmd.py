"""``justicelab release build | list | show``: tiered releases of a dataset, checked together and recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from justicelab.cli.control_cmd import AsOption
from justicelab.cli.output import Format, FormatOption, emit, err_console
from justicelab.cli.read_cmd import gated
from justicelab.gate import GateSecret, compose, grantee_key
from justicelab.gate.compose import grantee_of
from justicelab.privacy.releases import ReleaseError, release, releases
from justicelab.privacy.risk import open_gated_table
from justicelab.publish.tiers import TIERS, load_release_policy
from justicelab.publish.tiers import build_release as build
from justicelab.standard import load_standard
from justicelab.warehouse import Generaliser

app = typer.Typer(help="Tiered releases: public, researcher and internal files with their data dictionary, "
                  "metadata and methodology note, checked together with earlier releases (docs/releases.md).",
                  no_args_is_help=True)


def _researcher(g: Any, grantee: str, dataset: str, purpose: str, standard: Any) -> None:
    """A researcher release needs the researcher's own grant (under a data-use agreement) for the purpose."""
    with g.control.session() as session:
        composition = compose(session, grantee, dataset, purpose, standard=standard)
    denied = composition.denial()
    if denied is not None:
        raise ReleaseError(f"no researcher release of {dataset} for {grantee}: {denied} -- a researcher release "
                           "needs the researcher's own grant at the deidentified level or above, under a data-use "
                           "agreement covering this purpose")


@app.command("build")
def build_cmd(
    dataset: str = typer.Argument(..., help="The dataset, e.g. custody_death (the policy's dataset)."),
    tier: str = typer.Option(..., "--tier", "-t", help=f"The audience: {', '.join(TIERS)}."),
    policy: Path = typer.Option(..., "--policy", "-p", help="The release policy (YAML): what each tier receives; "
                                "see docs/releases.md."),
    purpose: str = typer.Option(..., "--purpose", help="Why you read the dataset (a purpose of your grant's "
                                "agreement), e.g. \"open data release\"; recorded in the audit ledger."),
    grantee: str = typer.Option(None, "--for", help="Researcher tier: the researcher the release is for (they need "
                                "their own grant under a data-use agreement for the same purpose)."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for release folders (default: the workspace's "
                             "releases/)."),
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """Build the release of one tier: read the dataset through the gate, apply the tier's policy (anonymised
    records, suppressed count tables, per-researcher pseudonyms), check it together with every earlier release
    its audience holds, write data, data dictionary, metadata and methodology note, and record it.

    Examples:
      justicelab release build custody_death --tier public -p docs/examples/releases/custody_death.yaml \\
          --as doj_publisher --purpose "open data release"
      justicelab release build custody_death --tier researcher --for carol -p custody_death.yaml \\
          --as doj_publisher --purpose "research on deaths in custody"
    """
    loaded = load_release_policy(policy)
    if loaded.document.dataset != dataset:
        raise ReleaseError(f"{policy} is the release policy of {loaded.document.dataset}, not {dataset}")
    loaded.tier(tier)
    standard = load_standard()
    with gated(as_user) as g:
        if grantee:
            _researcher(g, grantee, dataset, purpose, standard)
        generaliser = Generaliser.for_warehouse(standard, g.warehouse)
        key = grantee_key(GateSecret.load_or_create(g.workspace.root), grantee_of(grantee)) if grantee else None
        with open_gated_table(g.warehouse, g.control, g.workspace, g.user, dataset, purpose, standard=standard,
                              generaliser=generaliser) as ds:
            built = build(g.warehouse, ds, loaded, tier, generaliser=generaliser, built_by=g.user, purpose=purpose,
                          releases_dir=out or g.workspace.path("releases"), grantee=grantee, grantee_key=key,
                          progress=lambda text: err_console.print(f"[dim]{text}[/dim]"))
    m = built.metadata
    if fmt is Format.json:
        sys.stdout.write(json.dumps(m, indent=2, ensure_ascii=False, default=str) + "\n")
        return
    rows = _summary(m)
    emit(rows, fmt, f"release {built.entry.name} -> {built.folder}")


def _summary(m: dict[str, Any]) -> list[dict[str, Any]]:
    held = m["risk_as_held"]
    rec = m.get("records") or {}
    achieved = rec.get("achieved") or {}
    rows: list[dict[str, Any]] = [
        {"what": "records as held", "value": held["records"]},
        {"what": "k as held -> released", "value": f"{held['k']} -> {achieved.get('k', 'n/a')}"},
        {"what": "unique as held -> released",
         "value": f"{held['sample_uniqueness']:.1%} -> "
                  + (f"{achieved['sample_uniqueness']:.1%}" if "sample_uniqueness" in achieved else "n/a")},
    ]
    if rec.get("released") is not None:
        rows.append({"what": "records released (suppressed)", "value": f"{rec['released']} ({rec['suppressed']})"})
    for t in m.get("tables", []):
        rows.append({"what": f"table {t['name']}", "value": f"{t['cells']} cells, {t['suppressed']} suppressed"})
    joint = m["joint_check"]
    rows.append({"what": "checked with earlier releases",
                 "value": f"{len(joint['artifacts'])} files, safe" if joint.get("artifacts") else joint.get("note")})
    rows += [{"what": f"file {f['path']}", "value": f"{f['rows']} rows"} for f in m["files"]]
    return rows


@app.command("list")
def list_cmd(
    dataset: str = typer.Argument(None, help="Only this dataset's releases."),
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """Every release in the ledger, oldest first.

    Example: justicelab release list custody_death --format csv
    """
    with gated(as_user) as g:
        rows = [r.summary() for r in releases(g.warehouse, dataset)]
    if not rows and fmt is Format.table:
        err_console.print("no releases yet (justicelab release build makes one)")
        return
    emit(rows, fmt, "releases")


@app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="The release, e.g. custody_death-public-1."),
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """One release: who built it, for whom, what it holds and how safe it is.

    Example: justicelab release show custody_death-public-1 --format json
    """
    with gated(as_user) as g:
        entry = release(g.warehouse, name)
    if fmt is Format.json:
        sys.stdout.write(json.dumps({**entry.summary(), "metadata": entry.metadata}, indent=2, ensure_ascii=False,
                                    default=str) + "\n")
        return
    emit([*({"what": k, "value": v} for k, v in entry.summary().items()), *_summary(entry.metadata)], fmt,
         f"release {entry.name}")
