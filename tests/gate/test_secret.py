"""The workspace gate secret: created once, private, stable, refused when exposed or malformed, never shown."""

from __future__ import annotations

import os
import stat

import pytest

from justicelab.errors import GateError
from justicelab.gate import SECRET_FILE, GateSecret, grantee_key


def test_created_once_private_and_stable(tmp_path):
    first = GateSecret.load_or_create(tmp_path)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert len(bytes.fromhex(text.strip())) == 32
    again = GateSecret.load_or_create(tmp_path)
    assert path.read_text() == text
    assert grantee_key(first, "user:a") == grantee_key(again, "user:a")
    # No temporary file left behind; the folder keeps itself out of version control.
    assert sorted(p.name for p in path.parent.iterdir()) == [".gitignore", "gate.key"]
    assert "*" in (path.parent / ".gitignore").read_text().splitlines()


def test_two_workspaces_get_different_secrets(tmp_path):
    a = GateSecret.load_or_create(tmp_path / "a")
    b = GateSecret.load_or_create(tmp_path / "b")
    assert grantee_key(a, "user:x") != grantee_key(b, "user:x")


def test_never_shows_itself(tmp_path):
    secret = GateSecret.load_or_create(tmp_path)
    hex_key = (tmp_path / SECRET_FILE).read_text().strip()
    assert hex_key not in repr(secret) and hex_key not in str(secret) and "hidden" in repr(secret)


def test_refuses_a_secret_others_can_read(tmp_path):
    GateSecret.load_or_create(tmp_path)
    path = tmp_path / SECRET_FILE
    os.chmod(path, 0o644)
    with pytest.raises(GateError, match=r"readable by group or others \(mode 0644\).*chmod 600"):
        GateSecret.load(path)


@pytest.mark.parametrize(("content", "message"), [
    ("not hex at all\n", "hexadecimal characters on one line"),
    ("abcd\n", "at least 64 hexadecimal characters, got 4"),
])
def test_refuses_a_malformed_secret_naming_the_file(tmp_path, content, message):
    path = tmp_path / "gate.key"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(GateError, match=message) as caught:
        GateSecret.load(path)
    assert str(path) in str(caught.value)


def test_missing_and_short_secrets_are_refused(tmp_path):
    with pytest.raises(GateError, match="missing"):
        GateSecret.load(tmp_path / "nope.key")
    with pytest.raises(GateError, match="at least 32 bytes"):
        GateSecret(b"short")
