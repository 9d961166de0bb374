"""Synthetic data with answer keys, shared by the demo, the tests and the benchmarks.

Public surface: :func:`generate_city` (a city's department extracts in their own formats, mappings,
answer key) and :func:`generate_state` (incident-level crime, arrests, agencies and population, plus
the OpenJustice Crimes & Clearances layout), each deterministic by seed; :func:`generate_external`
(press releases and court calendars about a city's people, what a linkage attacker holds).
"""

from justicelab.synth.city import CityManifest, SourceFile, generate_city
from justicelab.synth.external import ExternalFile, Noise, generate_external
from justicelab.synth.state import StateManifest, generate_state

__all__ = ["CityManifest", "ExternalFile", "Noise", "SourceFile", "StateManifest", "generate_city",
           "generate_external", "generate_state"]
