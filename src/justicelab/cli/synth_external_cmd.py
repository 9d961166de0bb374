"""``justicelab synth external``: press releases and court calendars about a synthetic city's people."""

from __future__ import annotations

from pathlib import Path

import typer

from justicelab.cli.output import Format, FormatOption, console, emit_mapping


def external(
    out_dir: Path = typer.Argument(..., help="Folder to write the file into."),
    from_city: Path = typer.Option(..., "--from-city", help="A folder made by justicelab synth city."),
    out: str = typer.Option("press_releases.csv", "--out", help="File name inside the folder."),
    share: float = typer.Option(0.05, "--share", help="Share of the chosen sources' adult records that get a "
                                "notice, drawn mostly from felonies."),
    seed: int = typer.Option(1, "--seed", help="Random seed: the same seed gives the same file."),
    sources: str = typer.Option("jail_bookings,prosecutor_cases", "--sources",
                                help="City sources to draw notices from, comma-separated."),
    county: str = typer.Option("san_joaquin", "--county", help="County code the city lies in."),
    age_error: float = typer.Option(0.10, "--age-error", help="Share of notices whose age is off by one."),
    race_missing: float = typer.Option(0.25, "--race-missing", help="Share of notices that leave out race."),
    date_error: float = typer.Option(0.05, "--date-error", help="Share of notices dated the day after the event."),
    min_age: int = typer.Option(18, "--min-age", help="Nobody younger is named."),
    fmt: Format = FormatOption,
) -> None:
    """An attacker's external knowledge: name, age, sex, race, county, city and exact date of an arrest or
    court case, for a sample of a synthetic city's records, with realistic noise; record_id and person_id
    hold the truth for scoring an attack.

    Example: justicelab synth external out/ --from-city city/ --out press_releases.csv --share 0.05 --seed 1
    """
    from justicelab.synth import Noise, generate_external

    path = out_dir / out
    written = generate_external(from_city, path, share=share, seed=seed,
                                sources=[s.strip() for s in sources.split(",") if s.strip()], county=county,
                                noise=Noise(age_error, race_missing, date_error), min_age=min_age)
    summary = written.to_dict()
    if fmt is not Format.table:
        emit_mapping(summary, fmt)
        return
    flat = {k: ", ".join(f"{a}: {b}" for a, b in v.items()) if isinstance(v, dict)
            else ", ".join(v) if isinstance(v, list) else v for k, v in summary.items()}
    emit_mapping(flat, fmt, "External knowledge file")
    console.print(f"truth columns (for scoring only): record_id, person_id in {path}")
