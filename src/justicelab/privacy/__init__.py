"""Disclosure control: risk measures, anonymisation, table suppression, differential privacy.

Each part is a subpackage with its own public surface: ``privacy.risk``, ``privacy.anonymize``,
``privacy.tables``, ``privacy.dp``.
"""
