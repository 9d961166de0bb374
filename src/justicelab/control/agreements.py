"""Agreements: YAML documents validated against :class:`AgreementDocument`, the standard and the control
plane, stored as given with their parsed terms. Every error names the file, the line and the key."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from justicelab.control import audit
from justicelab.control.agreement_schema import CODE, AgreementDocument, CoveredDataset
from justicelab.control.authz import is_admin, is_steward_of, require_active
from justicelab.control.errors import AgreementError, ControlError, NotPermitted
from justicelab.control.levels import Level
from justicelab.control.lookup import by_name
from justicelab.control.models import Agreement, AgreementDataset, Dataset, Department, User
from justicelab.control.periods import utcnow
from justicelab.standard import Standard, load_standard

Loc = tuple[str | int, ...]


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _duplicate_keys(node: yaml.Node, path: Loc = ()) -> list[tuple[Loc, int, str]]:
    found: list[tuple[Loc, int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            name = key.value
            if name in seen:
                found.append(((*path, name), key.start_mark.line + 1,
                              f"appears twice (first on line {seen[name]}); each key may appear once"))
            seen.setdefault(name, key.start_mark.line + 1)
            found += _duplicate_keys(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, (*path, i))
    return found


@dataclass(frozen=True)
class ParsedAgreement:
    """An agreement file read and validated against the schema, with its YAML nodes for line numbers."""

    path: Path
    text: str
    document: AgreementDocument
    root: yaml.Node

    @property
    def code(self) -> str:
        return self.document.id or self.path.stem

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def line(self, loc: Loc) -> tuple[int, Loc]:
        """The line of the deepest node along ``loc``, and the part of ``loc`` found in the document."""
        return _locate(self.root, loc)

    def error(self, problems: Sequence[tuple[Loc, str]]) -> AgreementError:
        return _error(self.path, self.root, problems)


def _locate(root: yaml.Node, loc: Loc) -> tuple[int, Loc]:
    node: yaml.Node = root
    found: list[str | int] = []
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    nxt = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            nxt = node.value[part]
        if nxt is None:
            union_tag = isinstance(part, str) and part.startswith(("list[", "literal["))
            if isinstance(part, str) and isinstance(node, yaml.MappingNode) and not union_tag:
                found.append(part)  # a missing key: point at the mapping that lacks it
            continue
        node = nxt
        found.append(part)
    return node.start_mark.line + 1, tuple(found)


def _error(path: Path, root: yaml.Node, problems: Sequence[tuple[Loc, str]]) -> AgreementError:
    lines = []
    for loc, message in problems:
        line, where = _locate(root, loc)
        lines.append(f"{path}:{line}: {_dotted(where)}: {message}")
    return AgreementError("\n".join(lines))


_KEYS = {0: list(AgreementDocument.model_fields), 1: list(CoveredDataset.model_fields)}


def _describe(err: Any) -> str:
    kind, msg, loc = err["type"], err["msg"], err["loc"]
    if kind == "extra_forbidden":
        allowed = _KEYS[1] if loc and loc[0] == "datasets" else [
            "$schema" if k == "schema_ref" else k for k in _KEYS[0]]
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        return f"unknown key{hint}; expected one of: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    value = err.get("input")
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{msg}, got {value!r}"
    return msg


def read_agreement(path: Path, standard: Standard | None = None) -> ParsedAgreement:
    """Read an agreement file and check it against the schema and the standard (datasets are entities,
    fields are fields of them, levels and dates consistent); every problem found is reported at once."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AgreementError(f"{path}: agreement file not found") from None
    except UnicodeDecodeError as exc:
        raise AgreementError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise AgreementError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise AgreementError(f"{path}: not valid YAML: {exc}") from None
    if root is None or not isinstance(data, dict):
        raise AgreementError(f"{path}:1: (document): expected a YAML mapping with title, parties, purposes, "
                             "datasets, maximum_level, minimum_cell_size, onward_sharing, legal_basis, start, end")
    duplicates = _duplicate_keys(root)
    if duplicates:
        raise AgreementError("\n".join(f"{path}:{line}: {_dotted(loc)}: {msg}" for loc, line, msg in duplicates))
    try:
        doc = AgreementDocument.model_validate(data)
    except ValidationError as exc:
        raise _error(path, root, [(tuple(e["loc"]), _describe(e)) for e in exc.errors()]) from None
    parsed = ParsedAgreement(path, text, doc, root)
    problems = _check_terms(doc, standard or load_standard())
    if doc.id is None and not _code_ok(path.stem):
        problems.append((("id",), f"required when the file name ({path.stem!r}) is not a valid agreement id "
                                  "(lower-case letters, digits, '.', '_' and '-')"))
    if problems:
        raise parsed.error(problems)
    return parsed


def _code_ok(code: str) -> bool:
    return re.match(CODE, code) is not None


def _check_terms(doc: AgreementDocument, standard: Standard) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    if doc.end < doc.start:
        problems.append((("end",), f"the agreement ends ({doc.end}) before it starts ({doc.start})"))
    seen: dict[str, int] = {}
    for i, cov in enumerate(doc.datasets):
        if cov.dataset in seen:
            problems.append((("datasets", i, "dataset"),
                             f"{cov.dataset} is listed twice (also datasets[{seen[cov.dataset]}])"))
        seen.setdefault(cov.dataset, i)
        entity = standard.entities.get(cov.dataset)
        if entity is None:
            near = difflib.get_close_matches(cov.dataset, list(standard.entities), n=2)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            problems.append((("datasets", i, "dataset"), f"{cov.dataset!r} is not an entity of the standard{hint}"))
        elif isinstance(cov.fields, list):
            names = entity.field_names()
            for j, f in enumerate(cov.fields):
                if f not in names:
                    near = difflib.get_close_matches(f, names, n=3)
                    hint = f" (did you mean {', '.join(near)}?)" if near else ""
                    problems.append((("datasets", i, "fields", j), f"{f!r} is not a field of {cov.dataset}{hint}"))
        if cov.maximum_level is not None and cov.maximum_level > doc.maximum_level:
            problems.append((("datasets", i, "maximum_level"), f"{cov.maximum_level.value} is above the "
                             f"agreement's maximum_level {doc.maximum_level.value}"))
    lowered = [p.casefold() for p in doc.purposes]
    for i, p in enumerate(lowered):
        if lowered.index(p) != i:
            problems.append((("purposes", i), f"{doc.purposes[i]!r} is listed twice"))
    return problems


def _require_owners(actor: User, code: str, parties: Iterable[str], datasets: Iterable[Dataset],
                    existing: Agreement | None) -> None:
    """Departments determine the terms of what they share: only a steward of every department whose datasets
    the agreement covers (now, or in the version it replaces) may store it, or an admin. Otherwise a steward
    of one party could, say, put another party's records under a shorter retention period."""
    if is_admin(actor):
        return
    owners = {d.owner.code for d in datasets}
    if existing is not None:
        owners |= {c.dataset.owner.code for c in existing.coverage}
    if not owners and any(is_steward_of(actor, p) for p in parties):
        return
    foreign = sorted(o for o in owners if not is_steward_of(actor, o))
    if foreign or not owners:
        whose = f"it covers data of {', '.join(foreign)}" if foreign else "it covers no data of theirs"
        raise NotPermitted(f"{actor.username} may not store agreement {code}: {whose}; only a steward of every "
                           f"department whose data it covers ({', '.join(sorted(owners)) or ', '.join(parties)}) "
                           "or an admin may")


def add_agreement(session: Session, actor: User, path: Path, *, replace: bool = False,
                  standard: Standard | None = None) -> Agreement:
    """Store an agreement file: its parties must be departments, its datasets registered and owned by a
    party. An admin, or a steward of every department whose datasets it covers, may add it; ``replace``
    stores a new version of the same id."""
    require_active(actor)
    parsed = read_agreement(path, standard)
    doc = parsed.document
    problems: list[tuple[Loc, str]] = []
    known = {d.code: d for d in session.scalars(select(Department))}
    for i, party in enumerate(doc.parties):
        if party not in known:
            problems.append((("parties", i), f"no department {party!r} (known: {', '.join(sorted(known)) or 'none'})"))
    datasets: dict[str, Dataset] = {}
    for i, cov in enumerate(doc.datasets):
        ds = session.scalar(select(Dataset).where(Dataset.name == cov.dataset))
        if ds is None:
            problems.append((("datasets", i, "dataset"), f"dataset {cov.dataset} is not registered: run "
                             f"`justicelab dataset add {cov.dataset} --owner DEPARTMENT` first"))
        elif ds.owner.code not in doc.parties:
            problems.append((("datasets", i, "dataset"), f"{cov.dataset} is owned by {ds.owner.code}, which is "
                             "not a party to the agreement"))
        else:
            datasets[cov.dataset] = ds
    if problems:
        raise parsed.error(problems)
    existing = session.scalar(select(Agreement).where(Agreement.code == parsed.code))
    _require_owners(actor, parsed.code, doc.parties, datasets.values(), existing)
    if existing is not None and not replace:
        raise ControlError(f"{path}: agreement {parsed.code} already exists (version {existing.version}); "
                           "pass --replace to store this document as its new version")
    row = existing or Agreement(code=parsed.code, version=0)
    old_sha = existing.sha256 if existing else None
    row.title, row.document, row.sha256, row.source_file = doc.title, parsed.text, parsed.sha256, str(path)
    row.parties, row.purposes = list(doc.parties), list(doc.purposes)
    row.max_level, row.minimum_cell_size, row.retention = doc.maximum_level.value, doc.minimum_cell_size, doc.retention
    row.onward_sharing, row.legal_basis, row.starts, row.ends = doc.onward_sharing, doc.legal_basis, doc.start, doc.end
    row.version, row.created_at, row.created_by = row.version + 1, utcnow(), actor.username
    row.coverage = [AgreementDataset(dataset=datasets[c.dataset], fields=None if c.fields == "all" else list(c.fields),
                                     max_level=c.maximum_level.value if c.maximum_level else None)
                    for c in doc.datasets]
    session.add(row)
    audit.record(session, actor, "agreement.replace" if existing else "agreement.add", f"agreement:{parsed.code}",
                 {"version": row.version, "sha256": parsed.sha256, "previous_sha256": old_sha,
                  "file": str(path), "datasets": [c.dataset for c in doc.datasets],
                  "maximum_level": doc.maximum_level.value, "start": doc.start, "end": doc.end})
    return row


def get_agreement(session: Session, code: str) -> Agreement:
    row: Agreement = by_name(session, Agreement.code, code,
                             f"no agreement {code!r} (known: {{known}}); add one with `justicelab agreement add FILE`")
    return row


def list_agreements(session: Session) -> list[Agreement]:
    return list(session.scalars(select(Agreement).order_by(Agreement.code)))


def coverage_of(agreement: Agreement, dataset: str) -> AgreementDataset | None:
    """What the agreement says about ``dataset`` (None: not covered)."""
    return next((c for c in agreement.coverage if c.dataset.name == dataset), None)


def max_level_for(agreement: Agreement, coverage: AgreementDataset) -> Level:
    """The highest level any grant under ``agreement`` may give on the covered dataset."""
    top = Level(agreement.max_level)
    return min(top, Level(coverage.max_level)) if coverage.max_level else top
