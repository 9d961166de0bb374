"""``justicelab pprl``: linking without cleartext identifiers (encode at the department, load at the platform)."""

from __future__ import annotations

from pathlib import Path

import typer

from justicelab.cli.context import open_warehouse
from justicelab.cli.output import Format, FormatOption, console, emit, emit_mapping, err_console
from justicelab.errors import JusticelabError
from justicelab.ingest import load_mapping
from justicelab.linkage.encoded_file import read_encoded, read_metadata
from justicelab.linkage.encoding import read_secret
from justicelab.linkage.pprl import encode_extract, load_encodings

app = typer.Typer(help="Privacy-preserving linkage: keyed Bloom-filter encodings instead of cleartext identifiers.",
                  no_args_is_help=True)


@app.command("encode")
def encode(
    file: Path = typer.Argument(..., help="The department's extract (CSV/TSV, Excel, Parquet or JSON lines)."),
    mapping: Path = typer.Option(..., "--mapping", "-m", help="The extract's ingest mapping YAML."),
    secret_file: Path = typer.Option(..., "--secret-file", "-k",
                                     help="The secret shared among the departments (never with the platform)."),
    out: Path = typer.Option(..., "--out", "-o", help="The encodings file to write (Parquet)."),
    fmt: Format = FormatOption,
) -> None:
    """Encode an extract's names, dates of birth, addresses and person ids; only the encodings are written.

    Runs on the department's own machine: no workspace, no server. Rows that ingest would quarantine are
    left out, exactly as ingest leaves them out of the warehouse.

    Example: justicelab pprl encode ed_visits.parquet --mapping ed_visits.yaml --secret-file secret.key --out ed.parquet
    """
    secret = read_secret(secret_file)
    loaded = load_mapping(mapping)
    with console.status("encoding") as spinner:
        summary = encode_extract(file, loaded, secret, out, progress=lambda stage: spinner.update(stage))
    emit(summary.as_rows(), fmt, "Encoded")
    if fmt is Format.table:
        left_out = summary.rows_read - summary.records
        console.print(f"{summary.encoded} records encoded, {summary.empty} had nothing to encode"
                      + (f"; {left_out} rows left out (ingest would quarantine them)" if left_out else "")
                      + f" -> {out}")


@app.command("inspect")
def inspect(file: Path = typer.Argument(..., help="An encodings file."), fmt: Format = FormatOption) -> None:
    """An encodings file's metadata and whether it passes every check the platform makes on load.

    Example: justicelab pprl inspect ed.parquet
    """
    meta: dict[str, object] = dict(read_metadata(file))
    try:
        enc = read_encoded(file)
    except JusticelabError as exc:
        meta["valid"] = f"no: {exc}"
        emit_mapping(meta, fmt, str(file))
        raise typer.Exit(1) from None
    meta["valid"] = "yes"
    for c in enc.table.column_names:
        meta[f"{c} present"] = enc.table.num_rows - enc.table[c].null_count
    emit_mapping(meta, fmt, str(file))


@app.command("load")
def load(file: Path = typer.Argument(..., help="An encodings file from `justicelab pprl encode`."),
         fmt: Format = FormatOption) -> None:
    """Check an encodings file and load it into this workspace's warehouse (table person_encodings).

    The first upload fixes the workspace's secret (by its key check value): a file encoded with another
    secret is refused. Loading records again replaces their encodings.

    Example: justicelab pprl load ed.parquet
    """
    with open_warehouse() as (_, wh):
        summary = load_encodings(wh, file)
    emit(summary.as_rows(), fmt, "Loaded encodings")
    if fmt is Format.table and summary.in_warehouse < summary.rows:
        err_console.print(f"{summary.rows - summary.in_warehouse} of {summary.rows} encodings are for records not "
                          "ingested yet; they join once the records are")
