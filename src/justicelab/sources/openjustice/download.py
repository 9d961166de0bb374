"""Fetch the OpenJustice folder's files from their public addresses (``downloads.yaml``).

The only part of the adapters that touches the network, and only when asked. Each file is streamed to a
temporary file beside its destination and moved into place only when it is complete and not empty, so an
interrupted download never leaves a half file under the real name. One attempt per file, no retries: a
failure stops with an error naming the address.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from justicelab.errors import SourceFileError
from justicelab.ingest import Progress

DOWNLOADS = Path(__file__).with_name("downloads.yaml")
TIMEOUT_SECONDS = 60
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of the folder and where it comes from (see ``downloads.yaml``)."""

    name: str
    url: str | None
    origin: str  # doj, copy, derived or none
    note: str = ""
    checked: bool = True


def remote_files() -> list[RemoteFile]:
    """Every file ``downloads.yaml`` lists, downloadable or not."""
    data = yaml.safe_load(DOWNLOADS.read_text(encoding="utf-8"))
    return [
        RemoteFile(f["name"], f.get("url"), f["from"], " ".join(str(f.get("note", "")).split()), f.get("checked", True))
        for f in data["files"]
    ]


def _fetch(url: str, target: Path, name: str, report: Progress) -> None:
    """Stream ``url`` into a temporary file in ``target``'s folder; move it to ``target`` when complete."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "justicelab (openjustice download)"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else 0
            done = 0
            report(name, done, total)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                report(name, done, total)
        if done == 0:
            raise SourceFileError(f"{url}: the server sent an empty file; {name} was not written")
        if total and done != total:
            raise SourceFileError(f"{url}: received {done} of {total} bytes; {name} was not written")
        os.replace(tmp, target)
    except SourceFileError:
        raise
    except urllib.error.HTTPError as exc:
        raise SourceFileError(f"{url}: download failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise SourceFileError(f"{url}: download failed: {reason}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def download(
    folder: Path,
    *,
    base_url: str | None = None,
    files: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Download the OpenJustice files into ``folder`` (created if needed) and return their paths.

    By default every file with an address in ``downloads.yaml``, each from its own address; ``files``
    picks some by name. ``base_url`` fetches every file from ``{base_url}/{name}`` instead (a mirror of
    the folder). A file that is already there is replaced only once its new copy is complete.
    """
    catalog = {f.name: f for f in remote_files()}
    wanted = list(files) if files is not None else [n for n, f in catalog.items() if f.url]
    unknown = [n for n in wanted if n not in catalog]
    if unknown:
        raise SourceFileError(
            f"no OpenJustice file named {', '.join(unknown)} in {DOWNLOADS.name}; known: {', '.join(catalog)}"
        )
    report = progress or (lambda stage, done, total: None)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in wanted:
        entry = catalog[name]
        if base_url:
            url = f"{base_url.rstrip('/')}/{urllib.parse.quote(name)}"
        elif entry.url:
            url = entry.url
        else:
            raise SourceFileError(f"{name} has no address to download it from: {entry.note}")
        target = folder / name
        _fetch(url, target, name, report)
        written.append(target)
    return written
