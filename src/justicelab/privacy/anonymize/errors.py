"""Errors of anonymisation: a policy that cannot be read or applied, and targets no generalisation can meet."""

from __future__ import annotations

from justicelab.errors import JusticelabError


class AnonymizeError(JusticelabError):
    """An anonymisation that cannot be done as asked (no node of the lattice meets the targets, bad output path)."""


class PolicyError(AnonymizeError):
    """A policy file that is not valid, or does not fit its dataset; the message names file, line and key."""
