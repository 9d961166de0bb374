"""The gate: the one read path to person-level data.

This layer turns an :class:`AccessDecision` (what a grantee may see of a dataset, field by field, and
which rows) into a restricted Ibis expression: :func:`restrict`. ``identified`` fields as recorded;
``deidentified`` ones with direct identifiers dropped, keys replaced by per-grantee keyed pseudonyms
computed in the database, quasi-identifiers generalised (``deidentify.yaml``); ``aggregate``/``none``
give no rows (:class:`~justicelab.errors.AccessDenied`).

Public surface: :class:`AccessDecision`, :class:`FieldAccess`, the row predicates (:class:`Compare`,
:class:`PersonIn`, :class:`AllOf`, :class:`AnyOf`), :func:`restrict`, :func:`readable_table`, :func:`plan`,
:class:`ColumnPlan`, :class:`Treatment`, :func:`load_policy`, :class:`GateSecret`, :func:`grantee_key`,
:class:`Pseudonymiser`, :func:`reference_pseudonym`.
"""

from justicelab.gate.decision import (
    AccessDecision,
    AllOf,
    AnyOf,
    Compare,
    FieldAccess,
    PersonIn,
    RowPredicate,
)
from justicelab.gate.deidentify import ColumnPlan, DeidentificationPolicy, Treatment, load_policy
from justicelab.gate.pseudonyms import GranteeKey, Pseudonymiser, grantee_key, reference_pseudonym
from justicelab.gate.restriction import plan, readable_table, restrict
from justicelab.gate.secret import SECRET_FILE, GateSecret

__all__ = [
    "SECRET_FILE",
    "AccessDecision",
    "AllOf",
    "AnyOf",
    "ColumnPlan",
    "Compare",
    "DeidentificationPolicy",
    "FieldAccess",
    "GateSecret",
    "GranteeKey",
    "PersonIn",
    "Pseudonymiser",
    "RowPredicate",
    "Treatment",
    "grantee_key",
    "load_policy",
    "plan",
    "readable_table",
    "reference_pseudonym",
    "restrict",
]
