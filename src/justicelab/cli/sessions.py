"""Login sessions of the command line: the tokens ``justicelab login`` obtained, kept per operating-system user.

The file is ``$XDG_CONFIG_HOME/justicelab/sessions.json`` (``~/.config/...`` by default; the environment
variable ``JUSTICELAB_SESSIONS`` names another), readable by its owner only. It maps each workspace (its
resolved path) to ``{user name: token}``. A token is a credential: it is never printed, and it expires
(``--hours``, at most 12) and can be revoked like any API token.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from justicelab.control import ControlError
from justicelab.workspace import Workspace


def sessions_file() -> Path:
    named = os.environ.get("JUSTICELAB_SESSIONS")
    if named:
        return Path(named)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "justicelab" / "sessions.json"


def _read() -> dict[str, dict[str, str]]:
    path = sessions_file()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ControlError(f"{path}: cannot read the login sessions ({exc}); remove the file and log in again") \
            from None
    return data if isinstance(data, dict) else {}


def _write(data: dict[str, dict[str, str]]) -> None:
    path = sessions_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    # Created readable by its owner only, before any token is written into it.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, sort_keys=True)
    os.replace(temporary, path)


def _key(workspace: Workspace) -> str:
    return str(workspace.root.resolve())


def logged_in(workspace: Workspace) -> dict[str, str]:
    """User name -> token of this workspace's sessions."""
    return dict(_read().get(_key(workspace), {}))


def remember(workspace: Workspace, username: str, token: str) -> None:
    data = _read()
    data.setdefault(_key(workspace), {})[username] = token
    _write(data)


def forget(workspace: Workspace, username: str) -> None:
    data = _read()
    data.get(_key(workspace), {}).pop(username, None)
    if not data.get(_key(workspace)):
        data.pop(_key(workspace), None)
    _write(data)


def session_token(workspace: Workspace, as_user: str | None) -> str | None:
    """The token to act with: the session of ``as_user``, or the only session when no user is named."""
    mine = logged_in(workspace)
    if as_user is not None:
        return mine.get(as_user)
    return next(iter(mine.values())) if len(mine) == 1 else None
