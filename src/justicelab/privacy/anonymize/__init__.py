"""Anonymisation: the least information loss meeting k-anonymity, l-diversity and t-closeness, in DuckDB.

Public surface:

* policies: :func:`load_policy`, :func:`parse_policy` → :class:`Policy` (a validated :class:`PolicyDocument`
  with :class:`QuasiIdentifierRule`, :class:`Targets`, :class:`JurisdictionRule`), :func:`policy_json_schema`;
* the engine: :func:`anonymize` → :class:`Anonymization` (chosen levels, loss, what the release achieves,
  files written); its parts for tests and benchmarks: :func:`resolve` → :class:`Plan` of
  :class:`QuasiIdentifier`, :func:`prepare` → :class:`Prepared`, :class:`Evaluator` → :class:`NodeResult`,
  :func:`search` and :func:`brute_force` → :class:`SearchResult`, :class:`LocalRecoder` → :class:`LocalResult`
  (``recoding: local``);
* the small-jurisdiction rule: :func:`county_populations`, :class:`Merge`;
* errors: :class:`AnonymizeError`, :class:`PolicyError` (names file, line and key).
"""

from justicelab.privacy.anonymize.attributes import RECORDED, Plan, QuasiIdentifier, resolve
from justicelab.privacy.anonymize.engine import Anonymization, anonymize
from justicelab.privacy.anonymize.errors import AnonymizeError, PolicyError
from justicelab.privacy.anonymize.evaluate import Evaluator, NodeResult
from justicelab.privacy.anonymize.jurisdiction import Merge, county_populations
from justicelab.privacy.anonymize.local import LocalRecoder, LocalResult
from justicelab.privacy.anonymize.policy import (
    JurisdictionRule,
    Policy,
    PolicyDocument,
    QuasiIdentifierRule,
    Targets,
    load_policy,
    parse_policy,
    policy_json_schema,
)
from justicelab.privacy.anonymize.prepare import Prepared, prepare
from justicelab.privacy.anonymize.search import SearchResult, brute_force, search

__all__ = [
    "RECORDED",
    "Anonymization",
    "AnonymizeError",
    "Evaluator",
    "JurisdictionRule",
    "LocalRecoder",
    "LocalResult",
    "Merge",
    "NodeResult",
    "Plan",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "Prepared",
    "QuasiIdentifier",
    "QuasiIdentifierRule",
    "SearchResult",
    "Targets",
    "anonymize",
    "brute_force",
    "county_populations",
    "load_policy",
    "parse_policy",
    "policy_json_schema",
    "prepare",
    "resolve",
    "search",
]
