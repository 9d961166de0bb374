"""The control plane: departments, users, tokens, datasets, agreements, grants, access requests, consent,
retention, and the tamper-evident audit ledger (SQLAlchemy 2 on SQLite or PostgreSQL, Alembic migrations).

Public surface for the gate and the surfaces above it:

* opening: :func:`open_control`, :func:`open_workspace_control`, :class:`ControlDB` (``with db.session() as s``);
* access decisions: :func:`valid_grants` -> :class:`GrantCheck` (:class:`GrantInfo`, :class:`AgreementTerms`,
  :class:`Refusal`), :class:`RowRule`, :func:`consented_persons`, :func:`has_consent`;
* identity: :func:`acting_user`, :func:`authenticate`, :func:`verify_token`;
* the ledger: :func:`record`, :func:`record_read`, :func:`record_denial`, :func:`query_fingerprint`,
  :func:`verify`, :func:`entries`;
* errors: :class:`ControlError`, :class:`NotPermitted` (a change the actor may not make),
  :class:`AuthenticationError`, :class:`AgreementError`;
* every service in its module (``accounts``, ``datasets``, ``agreements``, ``grants``, ``access_requests``,
  ``consent``, ``retention``), and :class:`Level`.
"""

from justicelab.control.access import (
    AgreementTerms,
    GrantCheck,
    GrantInfo,
    Principal,
    Refusal,
    find_principal,
    principals_of,
    valid_grants,
)
from justicelab.control.accounts import acting_user, authenticate, verify_token
from justicelab.control.audit import entries, query_fingerprint, record, record_denial, record_read, verify
from justicelab.control.chain import Entry, Verdict
from justicelab.control.consent import consented_persons, has_consent
from justicelab.control.database import ControlDB, open_control, open_workspace_control
from justicelab.control.errors import AgreementError, AuthenticationError, ControlError, LoginLocked, NotPermitted
from justicelab.control.levels import Level
from justicelab.control.rules import ConsentRule, FieldInRule, RowRule

__all__ = [
    "AgreementError",
    "AgreementTerms",
    "AuthenticationError",
    "ConsentRule",
    "ControlDB",
    "ControlError",
    "Entry",
    "FieldInRule",
    "GrantCheck",
    "GrantInfo",
    "Level",
    "LoginLocked",
    "NotPermitted",
    "Principal",
    "Refusal",
    "RowRule",
    "Verdict",
    "acting_user",
    "authenticate",
    "consented_persons",
    "entries",
    "find_principal",
    "has_consent",
    "open_control",
    "open_workspace_control",
    "principals_of",
    "query_fingerprint",
    "record",
    "record_denial",
    "record_read",
    "valid_grants",
    "verify",
    "verify_token",
]
