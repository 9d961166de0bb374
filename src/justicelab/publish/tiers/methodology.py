"""The methodology note of a release (its README.md): the metadata told for people -- what the data is, what
was done to it and why, how safe it is now compared with the data as held, and what each file holds."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _risk_rows(held: dict[str, Any], after: dict[str, Any] | None) -> list[str]:
    rows = ["| measure | as held | as released |", "|---|---|---|"]
    a = after or {}
    rows.append(f"| smallest group sharing the same quasi-identifiers (k) | {held['k']} | {a.get('k', 'n/a')} |")
    rows.append(f"| records unique on them | {_pct(held['sample_uniqueness'])} | "
                f"{_pct(a.get('sample_uniqueness')) if a else 'n/a'} |")
    rows.append(f"| highest re-identification risk (prosecutor) | {held['prosecutor_risk_highest']:.3f} | "
                + (f"{a['prosecutor_risk_highest']:.3f} |" if 'prosecutor_risk_highest' in a else "n/a |"))
    rows.append(f"| records in groups smaller than 11 | {held['records_in_classes_below_11']} | "
                f"{a.get('records_in_classes_below_11', 'n/a')} |")
    return rows


def methodology_note(m: dict[str, Any]) -> str:
    """Markdown for the release folder's README.md, generated from ``metadata.json``."""
    out = [f"# {m['title']} — {m['tier']} release `{m['release']}`", "", m["description"].strip(), "",
           f"Published by {m['publisher']} on {m['built_at'][:10]} for the **{m['audience']}** audience: "
           f"{m['tier_description'].strip()}", "",
           f"Built by {m['built_by']} (purpose: {m['purpose']}) from the `{m['dataset']}` dataset"
           + (f" where `{m['where']}`" if m.get("where") else "") + ", read through the access gate.", "",
           "## How the data was protected", ""]
    records = m.get("records")
    achieved = None
    if records and records.get("method") == "as read through the gate":
        out += [f"The record file holds {records['records']} records as the builder may read them: an internal "
                "release, for staff under the data-sharing agreement only.", ""]
    elif records:
        achieved = records.get("achieved", {})
        levels = records.get("levels", {})
        targets = records.get("targets", {})
        out += [f"The record file holds {records.get('released', '?')} of {records.get('records', '?')} records; "
                f"{records.get('suppressed', 0)} were left out because no allowed generalisation made them safe "
                "to show.", "", "Each quasi-identifier is released only as finely as the targets allow:", ""]
        out += [f"* **{q}**: {lvl}" for q, lvl in levels.items()]
        wanted = ", ".join(f"{k} = {v}" for k, v in targets.items() if v is not None)
        out += ["", f"Targets: {wanted}. Every combination of released quasi-identifiers is shared by at least "
                f"{achieved.get('k', '?')} records.", ""]
    out += ["## Risk before and after", "",
            f"Measured on {', '.join(m['risk_as_held']['quasi_identifiers'])} (the attributes an outsider could "
            "know from press releases, court calendars or obituaries).", ""]
    out += _risk_rows(m["risk_as_held"], achieved)
    out.append("")
    for t in m.get("tables", []):
        out += [f"## Table `{t['name']}`", "",
                f"Counts by {', '.join(t['by'])} with every total. "
                + (f"Counts from 1 to {t['threshold'] - 1} are suppressed ({t.get('primary', 0)} cells), and "
                   f"{t.get('complementary', 0)} further cells are hidden so that no suppressed count can be "
                   "worked out from the totals. An independent attacker (linear programming over the published "
                   f"cells and totals) verified it: {t.get('verified')}." if t["threshold"] else
                   "Every count is published (internal release)."), ""]
    joint = m.get("joint_check", {})
    out += ["## Checked together with earlier releases", ""]
    if joint.get("artifacts"):
        out += [f"This release was checked together with every earlier release its audience may hold "
                f"({len(joint['artifacts'])} files in all): no count below the threshold can be narrowed by "
                "combining them (for example by subtracting last year's table from this year's).", ""]
    else:
        out += [joint.get("note", "not checked") + ".", ""]
    dp = m["dp_budget"]
    out += ["## Differential privacy budget", "",
            f"This release spends no privacy-loss budget. The dataset's budget is ε = {dp['epsilon']:g}, of which "
            f"{dp['spent_epsilon']:g} has been spent by {dp['dp_releases']} differentially private release(s).", "",
            "## Files", "", "| file | rows | SHA-256 |", "|---|---|---|"]
    out += [f"| `{f['path']}` | {f['rows']} | `{f['sha256'][:16]}…` |" for f in m["files"]]
    out += ["", "`datapackage.json` describes every column (from the Justice Data Standard) and "
            "`metadata.json` holds everything above in machine-readable form.", ""]
    return "\n".join(out)
