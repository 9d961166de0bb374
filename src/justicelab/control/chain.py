"""The ledger's hash chain as pure functions: canonical JSON, entry hashes, and verification.

Each entry's hash covers its number, time, actor, action, target, details and the previous entry's hash,
serialised as canonical JSON (sorted keys, no spaces, UTF-8), so any edit, deletion, insertion or
reordering breaks the chain at a place :func:`verify_chain` names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from justicelab.control.periods import as_utc

#: The "previous hash" of the first entry.
GENESIS = "0" * 64


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot record a {type(value).__name__} in the audit ledger")


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept: the same content always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def timestamp(at: dt.datetime) -> str:
    """The one textual form of an entry's time (UTC, microseconds) that its hash covers."""
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One ledger entry as stored. ``details`` is the canonical JSON text of the entry's details."""

    seq: int
    at: dt.datetime
    actor: str | None
    action: str
    target: str
    details: str
    prev_hash: str
    hash: str

    @property
    def details_dict(self) -> dict[str, Any]:
        loaded = json.loads(self.details)
        return loaded if isinstance(loaded, dict) else {"value": loaded}


def entry_hash(seq: int, at: dt.datetime, actor: str | None, action: str, target: str, details: str,
               prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of an entry's content and the previous entry's hash."""
    body = {"seq": seq, "at": timestamp(at), "actor": actor, "action": action, "target": target,
            "details": details, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def make_entry(seq: int, at: dt.datetime, actor: str | None, action: str, target: str,
               details: Mapping[str, Any] | None, prev_hash: str) -> Entry:
    """A new entry that follows the one whose hash is ``prev_hash``."""
    text = canonical_json(dict(details or {}))
    at = as_utc(at)
    return Entry(seq, at, actor, action, target, text, prev_hash,
                 entry_hash(seq, at, actor, action, target, text, prev_hash))


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What :func:`verify_chain` found: intact (count and head hash) or the first broken entry and why."""

    ok: bool
    count: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _span(first: int, last: int) -> str:
    return f"entry #{first} is" if first == last else f"entries #{first}..#{last} are"


def verify_chain(entries: Iterable[Entry], head: tuple[int, str] | None = None,
                 anchors: Mapping[int, str] | None = None) -> Verdict:
    """Recompute the chain over ``entries`` (in stored order) and compare its end with the recorded ``head``
    (number, hash) and with any ``anchors`` (number -> hash noted earlier, e.g. published)."""
    anchors = dict(anchors or {})
    expected, prev, count = 1, GENESIS, 0

    def broken(seq: int, problem: str) -> Verdict:
        return Verdict(False, count, prev, seq, problem)

    for e in entries:
        if e.seq > expected:
            return broken(expected, f"{_span(expected, e.seq - 1)} missing: deleted "
                                    f"(entry #{e.seq} follows #{expected - 1})")
        if e.seq < expected:
            return broken(expected, f"entry #{expected} is out of place: entry #{e.seq} follows #{expected - 1} "
                                    "(entries were reordered or one was duplicated)")
        if entry_hash(e.seq, e.at, e.actor, e.action, e.target, e.details, e.prev_hash) != e.hash:
            return broken(e.seq, f"entry #{e.seq} was edited: its content no longer matches its hash")
        if e.prev_hash != prev:
            return broken(e.seq, f"entry #{e.seq} does not follow entry #{e.seq - 1} (its previous-entry hash "
                                 "differs): an entry before it was replaced, inserted or reordered")
        if e.seq in anchors and anchors.pop(e.seq) != e.hash:
            return broken(e.seq, f"entry #{e.seq} differs from the hash noted for it earlier: the ledger was "
                                 "rewritten from here on")
        prev, expected, count = e.hash, expected + 1, count + 1
    if anchors:
        first = min(anchors)
        return broken(first, f"entry #{first} was noted earlier but the ledger ends at #{count}: entries were "
                             "deleted from the end")
    if head is not None:
        head_seq, head_hash = head
        if count < head_seq:
            return broken(count + 1, f"{_span(count + 1, head_seq)} missing: deleted from the end (the ledger "
                                     f"head records #{head_seq})")
        if count > head_seq:
            return broken(head_seq + 1, f"{_span(head_seq + 1, count)} after the recorded head #{head_seq}: "
                                        "inserted outside the ledger")
        if prev != head_hash:
            return broken(count, f"entry #{count} is not the entry the ledger head records: it was replaced")
    return Verdict(True, count, prev)
