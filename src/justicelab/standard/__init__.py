"""The Justice Data Standard: entity types, fields, code lists and hierarchies, loaded from YAML.

Public surface: :func:`load_standard`, :class:`Standard` and the models it is made of.
"""

from justicelab.standard.loader import Standard, load_standard
from justicelab.standard.models import (
    CodeList,
    CompareRule,
    EntityKind,
    FieldDef,
    FieldType,
    Hierarchy,
    LegalClass,
    PrivacyRole,
    ResolvedEntity,
)

__all__ = [
    "CodeList",
    "CompareRule",
    "EntityKind",
    "FieldDef",
    "FieldType",
    "Hierarchy",
    "LegalClass",
    "PrivacyRole",
    "ResolvedEntity",
    "Standard",
    "load_standard",
]
