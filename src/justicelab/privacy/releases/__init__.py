"""The release ledger and the joint check of releases (differencing).

Public surface: :class:`Artifact` (what one published file tells its readers) with :func:`table_artifact` and
:func:`records_artifact`; :func:`check` -> :class:`DifferencingReport` of :class:`Exposure`; the ledger:
:func:`record`, :func:`releases`, :func:`release`, :func:`next_name`, :func:`earlier_artifacts`,
:func:`audience_of`, :class:`ReleaseEntry`, :class:`ReleaseError`.
"""

from justicelab.privacy.releases.artifact import Artifact, records_artifact, table_artifact
from justicelab.privacy.releases.differencing import DifferencingReport, Exposure, check
from justicelab.privacy.releases.ledger import (
    PUBLIC,
    ReleaseEntry,
    ReleaseError,
    audience_of,
    earlier_artifacts,
    ensure_release_tables,
    next_name,
    record,
    release,
    releases,
)

__all__ = [
    "PUBLIC",
    "Artifact",
    "DifferencingReport",
    "Exposure",
    "ReleaseEntry",
    "ReleaseError",
    "audience_of",
    "check",
    "earlier_artifacts",
    "ensure_release_tables",
    "next_name",
    "record",
    "records_artifact",
    "release",
    "releases",
    "table_artifact",
]
