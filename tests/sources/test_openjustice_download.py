"""The OpenJustice download, against a local HTTP server (no real network): complete files only, clear errors
naming the address, and an address for every file of the folder."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from justicelab.errors import SourceFileError
from justicelab.sources.openjustice.download import download, remote_files
from tests.conftest import OPENJUSTICE, need


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[callable]:
    """Serve a folder on 127.0.0.1 (a free port) in a thread; returns its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/data"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_downloads_the_named_files_from_the_server(tmp_path: Path, serve) -> None:
    site = tmp_path / "site" / "data"
    site.mkdir(parents=True)
    (site / "LE_and_CJ_Personnel_2003-2017.csv").write_bytes(b"YEAR,COUNTY\r\n2003,Alameda County\r\n")
    (site / "DIC_2005-2018_20190612_codes.csv").write_bytes(b"Drunk,046\r\r\n")
    seen: list[tuple[str, int, int]] = []
    dest = tmp_path / "out" / "openjustice"
    got = download(dest, base_url=serve(tmp_path / "site"),
                   files=["LE_and_CJ_Personnel_2003-2017.csv", "DIC_2005-2018_20190612_codes.csv"],
                   progress=lambda name, done, total: seen.append((name, done, total)))
    assert got == [dest / "LE_and_CJ_Personnel_2003-2017.csv", dest / "DIC_2005-2018_20190612_codes.csv"]
    for path in got:
        assert path.read_bytes() == (site / path.name).read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in got)  # no temporary files left
    assert ("DIC_2005-2018_20190612_codes.csv", 12, 12) in seen


def test_the_whole_folder_round_trips_byte_for_byte(tmp_path: Path, serve) -> None:
    """Every file with an address, fetched from a mirror of the real folder, arrives identical."""
    need(OPENJUSTICE.is_dir(), f"OpenJustice files not found at {OPENJUSTICE}")
    base = serve(OPENJUSTICE.parent).rsplit("/", 1)[0] + "/" + OPENJUSTICE.name
    got = download(tmp_path, base_url=base)
    assert sorted(p.name for p in got) == sorted(f.name for f in remote_files() if f.url)
    for path in got:
        assert _sha(path) == _sha(OPENJUSTICE / path.name), path.name


def test_a_missing_file_names_the_url_and_leaves_nothing(tmp_path: Path, serve) -> None:
    site = tmp_path / "site"
    site.mkdir()
    base = serve(site)
    dest = tmp_path / "out"
    with pytest.raises(SourceFileError, match=rf"{base}/LE_and_CJ_Personnel_2003-2017\.csv: download failed: HTTP 404"):
        download(dest, base_url=base, files=["LE_and_CJ_Personnel_2003-2017.csv"])
    assert list(dest.iterdir()) == []


def test_an_empty_file_is_refused_and_the_previous_copy_kept(tmp_path: Path, serve) -> None:
    site = tmp_path / "site" / "data"
    site.mkdir(parents=True)
    (site / "LE_and_CJ_Personnel_2003-2017.csv").write_bytes(b"")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "LE_and_CJ_Personnel_2003-2017.csv").write_bytes(b"the copy from last time")
    with pytest.raises(SourceFileError, match=r"LE_and_CJ_Personnel_2003-2017\.csv: the server sent an empty file"):
        download(dest, base_url=serve(tmp_path / "site"), files=["LE_and_CJ_Personnel_2003-2017.csv"])
    assert [p.name for p in dest.iterdir()] == ["LE_and_CJ_Personnel_2003-2017.csv"]
    assert (dest / "LE_and_CJ_Personnel_2003-2017.csv").read_bytes() == b"the copy from last time"


def test_an_unreachable_server_names_the_url(tmp_path: Path) -> None:
    url = r"http://127\.0\.0\.1:1/x/LE_and_CJ_Personnel_2003-2017\.csv"
    with pytest.raises(SourceFileError, match=rf"{url}: download failed"):
        download(tmp_path / "out", base_url="http://127.0.0.1:1/x", files=["LE_and_CJ_Personnel_2003-2017.csv"])
    assert list((tmp_path / "out").iterdir()) == []


def test_unknown_names_and_files_without_an_address_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match=r"no OpenJustice file named arrests\.csv"):
        download(tmp_path, files=["arrests.csv"])
    with pytest.raises(SourceFileError, match=r"dof_e4_county_population_2010-2024\.csv has no address"):
        download(tmp_path, files=["dof_e4_county_population_2010-2024.csv"])
    assert list(tmp_path.iterdir()) == []


def test_the_address_list_covers_the_folder_and_says_where_each_file_comes_from() -> None:
    files = remote_files()
    assert len({f.name for f in files}) == len(files)
    for f in files:
        assert f.origin in {"doj", "copy", "derived", "none"}, f.name
        assert (f.url is None) == (f.origin == "none"), f.name
        assert f.url is None or f.url.startswith("https://"), f.name
        assert f.note, f.name
        if f.origin == "copy":  # pinned to the commit the copy was taken from
            assert "raw.githubusercontent.com" in (f.url or "") and len(f.url.split("/")[5]) == 40, f.name
    if OPENJUSTICE.is_dir():
        on_disk = {p.name for p in OPENJUSTICE.iterdir() if p.name != "SOURCES.md"}
        assert on_disk == {f.name for f in files}
