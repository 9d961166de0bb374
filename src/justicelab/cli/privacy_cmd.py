"""`justicelab privacy ...`: measure disclosure risk, anonymise, suppress small cells, add DP noise."""

from __future__ import annotations

import typer

from justicelab.cli import (
    privacy_anonymize_cmd,
    privacy_attack_cmd,
    privacy_dp_cmd,
    privacy_risk_cmd,
    privacy_tables_cmd,
)

app = typer.Typer(
    help="Disclosure control: measure re-identification risk, anonymise, suppress small cells, release noisy counts.",
    no_args_is_help=True,
)
app.command("assess")(privacy_risk_cmd.assess)
app.command("anonymize")(privacy_anonymize_cmd.anonymize)
app.command("suppress")(privacy_tables_cmd.suppress)
app.command("attack")(privacy_attack_cmd.attack_cmd)
app.command("dp-counts")(privacy_dp_cmd.dp_counts_cmd)
app.add_typer(privacy_dp_cmd.budget_app, name="budget")
