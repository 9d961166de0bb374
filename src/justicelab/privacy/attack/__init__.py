"""Attack simulation: link an external file (press releases, court calendars) to a release and count
how many released records it re-identifies uniquely and correctly, in DuckDB.

Public surface:

* :func:`attack` (files or Arrow tables → :class:`AttackResult`, with :class:`Claim` per unique match);
* the pieces a caller with its own DuckDB tables reuses: :func:`load_side` / :class:`Side`,
  :class:`QuasiIdentifier`, :class:`Truth`, :class:`Codec` (one hierarchy level as SQL), :func:`detect`
  (a release column's level from its labels), :func:`read_metadata`, :func:`run`;
* :data:`SIZE_BUCKETS` (the match-set size distribution) and :class:`AttackError`.
"""

from justicelab.privacy.attack.errors import AttackError
from justicelab.privacy.attack.levels import Codec, detect
from justicelab.privacy.attack.link import attack, run
from justicelab.privacy.attack.result import SIZE_BUCKETS, AttackResult, Claim
from justicelab.privacy.attack.spec import QuasiIdentifier, Truth, read_metadata
from justicelab.privacy.attack.tables import Side, load_side

__all__ = [
    "SIZE_BUCKETS",
    "AttackError",
    "AttackResult",
    "Claim",
    "Codec",
    "QuasiIdentifier",
    "Side",
    "Truth",
    "attack",
    "detect",
    "load_side",
    "read_metadata",
    "run",
]
