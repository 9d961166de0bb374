"""The gate: the one read path to person-level data.

:func:`read` is the function every surface calls to read person-level rows: it composes the user's grants
(:func:`compose` -> :class:`Composition`, one :class:`AccessDecision` per row region), restricts the
table, and writes one audit-ledger entry per read, allowed or denied (:class:`GateResult`). Built on it:
:func:`access_report` (``access check``), :func:`person_lookup` and :func:`review_lookup` (``person show``,
``link explain``/``review``), :func:`read_quarantine` (``quarantine show``/``export``).

This layer turns an :class:`AccessDecision` (what a grantee may see of a dataset, field by field, and
which rows) into a restricted Ibis expression: :func:`restrict`. ``identified`` fields as recorded;
``deidentified`` ones with direct identifiers dropped, keys replaced by per-grantee keyed pseudonyms
computed in the database, quasi-identifiers generalised (``deidentify.yaml``); ``aggregate``/``none``
give no rows (:class:`~justicelab.errors.AccessDenied`).

Public surface: :class:`AccessDecision`, :class:`FieldAccess`, the row predicates (:class:`Compare`,
:class:`PersonIn`, :class:`AllOf`, :class:`AnyOf`, :class:`Not`), :func:`restrict`, :func:`readable_table`,
:func:`plan`, :func:`row_filter` (a row rule as an Ibis boolean), :class:`ColumnPlan`, :class:`Treatment`,
:func:`load_policy`, :class:`GateSecret`, :func:`grantee_key`, :class:`Pseudonymiser`,
:func:`reference_pseudonym`, :class:`PseudonymCache`.
"""

from justicelab.gate.compose import Composition, compose
from justicelab.gate.decision import (
    AccessDecision,
    AllOf,
    AnyOf,
    Compare,
    FieldAccess,
    Not,
    PersonIn,
    RowPredicate,
)
from justicelab.gate.deidentify import ColumnPlan, DeidentificationPolicy, Treatment, load_policy
from justicelab.gate.explain import AccessReport, access_report
from justicelab.gate.lookup import LINKAGE_FIELDS, Lookup, person_lookup, review_lookup
from justicelab.gate.pseudonym_cache import PseudonymCache
from justicelab.gate.pseudonyms import GranteeKey, Pseudonymiser, grantee_key, reference_pseudonym
from justicelab.gate.quarantine import read_quarantine
from justicelab.gate.read import GateResult, read
from justicelab.gate.restriction import plan, readable_table, restrict, row_filter
from justicelab.gate.secret import SECRET_FILE, GateSecret

__all__ = [
    "LINKAGE_FIELDS",
    "SECRET_FILE",
    "AccessDecision",
    "AccessReport",
    "AllOf",
    "AnyOf",
    "ColumnPlan",
    "Compare",
    "Composition",
    "DeidentificationPolicy",
    "FieldAccess",
    "GateResult",
    "GateSecret",
    "GranteeKey",
    "Lookup",
    "Not",
    "PersonIn",
    "PseudonymCache",
    "Pseudonymiser",
    "RowPredicate",
    "Treatment",
    "access_report",
    "compose",
    "grantee_key",
    "load_policy",
    "person_lookup",
    "plan",
    "read",
    "read_quarantine",
    "readable_table",
    "reference_pseudonym",
    "restrict",
    "review_lookup",
    "row_filter",
]
