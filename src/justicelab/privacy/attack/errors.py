"""The attack's one error class."""

from __future__ import annotations

from justicelab.errors import JusticelabError


class AttackError(JusticelabError):
    """An attack that cannot be run as asked: unreadable file, missing column, labels of no known level."""
