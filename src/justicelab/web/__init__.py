"""The HTTP surface. :func:`create_app` builds the API over a workspace (``justicelab serve`` runs it): reads
through the gate for callers holding an API token, and password logins that give one (rate-limited).
"""

from justicelab.web.app import create_app

__all__ = ["create_app"]
