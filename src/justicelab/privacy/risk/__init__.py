"""Disclosure-risk measurement: k-anonymity, l-diversity, t-closeness and re-identification risk, in DuckDB SQL.

Public surface:

* measures over any DuckDB relation and already-generalised columns (what the anonymiser reuses):
  :func:`class_summary`, :func:`k_anonymity`, :func:`l_diversity`, :func:`entropy_l_diversity`,
  :func:`t_closeness`, :func:`sensitive_measure`, :func:`diversity`, with :class:`ClassSummary` and
  :class:`SensitiveMeasure`; attacker models :func:`prosecutor`, :func:`journalist`,
  :func:`marketer_in_sample`, :func:`record_risk_sql`, :func:`riskiest`;
* a whole assessment of a warehouse dataset read through the gate (:func:`open_gated_table`, with
  :class:`GatedRead`) or of a file (:func:`open_file`): :func:`assess` → :class:`RiskReport`;
  :func:`open_table` opens a warehouse table as stored, bypassing the gate (engine tests only);
  the ``--qi``/``--sensitive`` syntax: :func:`quasi_identifiers`,
  :func:`sensitive_attributes`, :class:`Attribute`;
* :class:`RiskError` for every request that cannot be measured.
"""

from justicelab.privacy.risk.assess import DEFAULT_THRESHOLD, RiskReport, assess
from justicelab.privacy.risk.dataset import Dataset, GatedRead, open_file, open_gated_table, open_table
from justicelab.privacy.risk.measures import (
    ClassSummary,
    RiskError,
    SensitiveMeasure,
    class_summary,
    diversity,
    entropy_l_diversity,
    is_numeric,
    k_anonymity,
    l_diversity,
    sensitive_measure,
    t_closeness,
)
from justicelab.privacy.risk.models import (
    JournalistRisk,
    ModelRisk,
    journalist,
    marketer_in_sample,
    prosecutor,
    record_risk_sql,
    riskiest,
)
from justicelab.privacy.risk.population import Population
from justicelab.privacy.risk.spec import Attribute, quasi_identifiers, sensitive_attributes

__all__ = [
    "DEFAULT_THRESHOLD",
    "Attribute",
    "ClassSummary",
    "Dataset",
    "GatedRead",
    "JournalistRisk",
    "ModelRisk",
    "Population",
    "RiskError",
    "RiskReport",
    "SensitiveMeasure",
    "assess",
    "class_summary",
    "diversity",
    "entropy_l_diversity",
    "is_numeric",
    "journalist",
    "k_anonymity",
    "l_diversity",
    "marketer_in_sample",
    "open_file",
    "open_gated_table",
    "open_table",
    "prosecutor",
    "quasi_identifiers",
    "record_risk_sql",
    "riskiest",
    "sensitive_attributes",
    "sensitive_measure",
    "t_closeness",
]
