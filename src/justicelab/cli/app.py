"""The Typer application and its command groups."""

from __future__ import annotations

import typer

from justicelab.cli import (
    access_cmd,
    agreement_cmd,
    audit_cmd,
    consent_cmd,
    dataset_cmd,
    department_cmd,
    grant_cmd,
    indicators_cmd,
    ingest_cmd,
    link_cmd,
    login_cmd,
    openjustice_cmd,
    pprl_cmd,
    privacy_cmd,
    quality_cmd,
    quarantine_cmd,
    read_cmd,
    release_cmd,
    request_cmd,
    retention_cmd,
    serve_cmd,
    source_cmd,
    standard_cmd,
    synth_cmd,
    token_cmd,
    user_cmd,
    workspace_cmd,
)

app = typer.Typer(
    name="justicelab",
    help="Responsible justice data: ingest, link, share, measure and publish without re-identifying anyone.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(workspace_cmd.init)
app.command("status")(workspace_cmd.status)
app.command("ingest")(ingest_cmd.ingest)
app.add_typer(quarantine_cmd.app, name="quarantine")
app.add_typer(standard_cmd.app, name="standard")
app.add_typer(synth_cmd.app, name="synth")
app.add_typer(source_cmd.app, name="source")
app.add_typer(indicators_cmd.app, name="indicators")
app.add_typer(quality_cmd.app, name="quality")
app.add_typer(openjustice_cmd.app, name="openjustice")
app.add_typer(link_cmd.app, name="link")
app.add_typer(link_cmd.person_app, name="person")
app.add_typer(pprl_cmd.app, name="pprl")
app.add_typer(privacy_cmd.app, name="privacy")
app.add_typer(release_cmd.app, name="release")
app.add_typer(department_cmd.app, name="department")
app.add_typer(user_cmd.app, name="user")
app.add_typer(token_cmd.app, name="token")
app.add_typer(dataset_cmd.app, name="dataset")
app.add_typer(agreement_cmd.app, name="agreement")
app.add_typer(grant_cmd.app, name="grant")
app.add_typer(request_cmd.app, name="request")
app.add_typer(consent_cmd.app, name="consent")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(retention_cmd.app, name="retention")
app.add_typer(access_cmd.app, name="access")
app.command("read")(read_cmd.read_dataset)
app.command("serve")(serve_cmd.serve)
app.command("login")(login_cmd.login)
app.command("logout")(login_cmd.logout)
