"""``justicelab privacy anonymize``: release a dataset at the least information loss its policy's targets allow."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from justicelab.cli.control_cmd import AsOption
from justicelab.cli.output import Format, FormatOption, console, emit, err_console
from justicelab.cli.privacy_risk_cmd import PurposeOption, open_dataset
from justicelab.privacy.anonymize import Anonymization, load_policy
from justicelab.privacy.anonymize import anonymize as anonymize_dataset


def _print(result: Anonymization) -> None:
    levels = [{"attribute": q.label, "column": q.column, "level": result.levels[q.label],
               "records by level": ", ".join(f"{lv} {share:.1%}" for lv, share in result.level_shares[q.label].items()),
               "allowed": ", ".join(q.levels)} for q in result.plan.qi]
    emit(levels, Format.table, f"Levels chosen for {result.dataset} ({result.plan.policy.document.tier} tier)")
    emit(result.summary(), Format.table, "Anonymisation")
    if result.plan.merge and result.plan.merge.counties:
        merged = ", ".join(sorted(result.plan.merge.counties))
        console.print(f"released as their region (under {result.plan.merge.min_population:,} residents in "
                      f"{result.plan.merge.year or 'the figures given'}): {merged}")
    for path in result.files:
        console.print(f"wrote {path}")


def anonymize(
    dataset: str = typer.Argument(None, help="A dataset of the workspace's warehouse, read through the gate "
                                  "(default: the policy's dataset)."),
    policy: Path = typer.Option(..., "--policy", "-p", help="The anonymisation policy (YAML): quasi-identifiers, "
                                "sensitive attributes, targets, jurisdiction rule; see docs/privacy-anonymize.md."),
    out: Path = typer.Option(Path("release"), "--out", "-o", help="Folder for DATASET.csv, DATASET.parquet and "
                             "DATASET.anonymization.json."),
    file: Path = typer.Option(None, "--file", help="Anonymise a CSV or Parquet file instead of a warehouse table."),
    entity: str = typer.Option(None, "--entity", help="With --file: the standard table the file follows "
                               "(default: the policy's dataset)."),
    purpose: str = PurposeOption,
    as_user: str = AsOption,
    fmt: Format = FormatOption,
) -> None:
    """Search the lattice of generalisation levels (with local suppression) for the least information loss that
    meets the policy's k-anonymity, l-diversity and t-closeness targets; write the release and its report.
    A warehouse dataset is read through the gate as you, for a purpose (recorded in the audit ledger; a refusal
    exits 3); a column the gate generalises for you is released as shown or suppressed.

    Examples:
      justicelab privacy anonymize custody_death --as ana --purpose "public release" \
          -p docs/examples/policies/custody_death_public.yaml -o release/
      justicelab privacy anonymize --file arrests.parquet --policy arrest_public.yaml -f json
    """
    loaded = load_policy(policy)
    name = None if file else (dataset or loaded.document.dataset)
    kind = entity or (loaded.document.dataset if file else None)
    bar = Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=True)
    with open_dataset(name, file, kind, as_user, purpose, "privacy anonymize") as (ds, gen), bar:
        task = bar.add_task("searching the lattice", total=None)
        result = anonymize_dataset(ds, loaded, generaliser=gen, out=out,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    if fmt is Format.json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
    elif fmt is Format.csv:
        emit(result.summary(), fmt)
    else:
        _print(result)
