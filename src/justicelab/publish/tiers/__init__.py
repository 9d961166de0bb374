"""Tiered releases: one canonical dataset -> a public, researcher or internal release with its data,
data dictionary, metadata and methodology note, checked together with earlier releases and recorded.

Public surface: :func:`load_release_policy`, :func:`parse_release_policy` -> :class:`ReleasePolicy`
(:class:`ReleasePolicyDocument`, :class:`TierSpec`, :class:`TableSpec`, :class:`RecordsSpec`),
:func:`release_policy_json_schema`; :func:`build_release` -> :class:`BuiltRelease`; :data:`TIERS`.
"""

from justicelab.publish.tiers.build import BuiltRelease, build_release
from justicelab.publish.tiers.policy import (
    TIERS,
    RecordsSpec,
    ReleasePolicy,
    ReleasePolicyDocument,
    TableSpec,
    TierSpec,
    load_release_policy,
    parse_release_policy,
    release_policy_json_schema,
)

__all__ = [
    "TIERS",
    "BuiltRelease",
    "RecordsSpec",
    "ReleasePolicy",
    "ReleasePolicyDocument",
    "TableSpec",
    "TierSpec",
    "build_release",
    "load_release_policy",
    "parse_release_policy",
    "release_policy_json_schema",
]
