"""The workspace gate secret: random key material that every pseudonym is derived from.

It lives in ``secrets/gate.key`` inside the workspace: 32 random bytes written as 64 hexadecimal
characters, created on first use with mode 0600 (the folder 0700, with a ``.gitignore`` that ignores
everything in it) and refused if group or others can read it. It is never printed, logged or put in a
query: only keys derived from it for one grantee reach the database (see
:mod:`justicelab.gate.pseudonyms`). Losing it changes every pseudonym; anyone who holds it (and the
warehouse) can recompute every grantee's pseudonyms, so back it up like a password, apart from the
warehouse, and keep it out of version control.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from justicelab.errors import GateError

SECRET_FILE = Path("secrets") / "gate.key"
KEY_BYTES = 32


class GateSecret:
    """The workspace's gate key (at least 32 bytes); derives per-purpose keys and never shows itself."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise GateError(f"a gate secret needs at least {KEY_BYTES} bytes, got {len(key)}")
        self._key = bytes(key)

    def derive(self, label: str) -> bytes:
        """A 32-byte key for ``label`` (HMAC-SHA256 of the label under the secret): one-way, label-separated."""
        return hmac.new(self._key, label.encode("utf-8"), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "GateSecret(<hidden>)"

    __str__ = __repr__

    @classmethod
    def generate(cls) -> GateSecret:
        """A fresh random secret (from the operating system's CSPRNG)."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def load(cls, path: Path) -> GateSecret:
        """Read the secret file, refusing one that others can read or that is not 64+ hexadecimal characters."""
        try:
            info = path.stat()
        except FileNotFoundError:
            raise GateError(f"{path}: the gate secret is missing") from None
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise GateError(f"{path}: the gate secret is readable by group or others (mode "
                            f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`")
        text = path.read_text(encoding="ascii", errors="replace").strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise GateError(f"{path}: expected {2 * KEY_BYTES} or more hexadecimal characters on one line") from None
        if len(key) < KEY_BYTES:
            raise GateError(f"{path}: expected at least {2 * KEY_BYTES} hexadecimal characters, got {len(text)}")
        return cls(key)

    @classmethod
    def load_or_create(cls, workspace_root: Path) -> GateSecret:
        """The workspace's secret, created (0600, atomically, never overwriting) when it does not exist yet."""
        path = workspace_root / SECRET_FILE
        if not path.exists():
            _create(path)
        return cls.load(path)


def _create(path: Path) -> None:
    """Write a new secret to a private temporary file, then link it into place (a concurrent creator wins once)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if not ignore.exists():  # a workspace kept in git never commits its secrets
        ignore.write_text("# Secrets of this workspace: never commit them.\n*\n", encoding="utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
