"""The person index: probabilistic linkage of every person-bearing record on Splink.

Public surface: :func:`link_run`, :func:`evaluate`, :func:`explain`, :func:`status`,
the review functions, and :class:`LinkageError`.
"""

from justicelab.linkage.evaluate import evaluate
from justicelab.linkage.explain import explain
from justicelab.linkage.review import decide, list_reviews, show_review
from justicelab.linkage.run import RunSummary, link_run
from justicelab.linkage.status import status
from justicelab.linkage.store import LinkageError

__all__ = [
    "LinkageError",
    "RunSummary",
    "decide",
    "evaluate",
    "explain",
    "link_run",
    "list_reviews",
    "show_review",
    "status",
]
