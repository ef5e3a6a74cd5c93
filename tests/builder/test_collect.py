"""Collecting build output: hashes and content types, and every link refused."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest

from builder.collect import OutputRejected, collect
from builder.content_types import content_type


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "dist" / "assets").mkdir(parents=True)
    (tmp_path / "dist" / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "dist" / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path / "dist" / "copy.html").write_text("<h1>hi</h1>")
    return tmp_path


def test_every_file_is_listed_with_hash_size_and_type(checkout: Path):
    files = collect(checkout, checkout / "dist")
    assert [f.path for f in files] == ["assets/app.js", "copy.html", "index.html"]
    index = files[2]
    assert index.sha256 == hashlib.sha256(b"<h1>hi</h1>").hexdigest() == files[1].sha256
    assert (index.size, index.content_type) == (11, "text/html; charset=utf-8")
    assert files[0].content_type == "text/javascript; charset=utf-8"


def test_a_symlink_fails_the_build(checkout: Path):
    os.symlink("/etc/passwd", checkout / "dist" / "assets" / "passwd")
    with pytest.raises(OutputRejected, match="assets/passwd: a symlink is not allowed"):
        collect(checkout, checkout / "dist")


def test_a_symlinked_directory_fails_the_build(checkout: Path):
    os.symlink("/etc", checkout / "dist" / "etc")
    with pytest.raises(OutputRejected, match="etc: a symlink"):
        collect(checkout, checkout / "dist")


def test_a_fifo_fails_the_build(checkout: Path):
    os.mkfifo(checkout / "dist" / "pipe")
    with pytest.raises(OutputRejected, match="pipe: a FIFO is not allowed"):
        collect(checkout, checkout / "dist")


def test_a_socket_fails_the_build(checkout: Path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(checkout / "dist" / "sock"))
        with pytest.raises(OutputRejected, match="sock: a socket is not allowed"):
            collect(checkout, checkout / "dist")


def test_a_hard_link_fails_the_build(checkout: Path):
    os.link(checkout / "dist" / "index.html", checkout / "dist" / "assets" / "linked.html")
    with pytest.raises(OutputRejected, match="hard links are not allowed"):
        collect(checkout, checkout / "dist")


def test_the_output_directory_must_be_a_real_directory_inside_the_checkout(checkout: Path,
                                                                             tmp_path: Path):
    os.symlink(checkout / "dist", checkout / "linked")
    with pytest.raises(OutputRejected, match="symlink"):
        collect(checkout, checkout / "linked")
    with pytest.raises(OutputRejected, match="outside the repository"):
        collect(checkout / "dist", checkout)
    with pytest.raises(OutputRejected, match="outside the repository"):
        collect(checkout, checkout / "dist" / ".." / "..")


def test_a_file_name_that_is_not_utf8_fails_the_build(checkout: Path):
    fd = os.open(os.fsencode(checkout / "dist") + b"/bad\xff.html", os.O_CREAT | os.O_WRONLY)
    os.close(fd)
    with pytest.raises(OutputRejected, match="not valid UTF-8"):
        collect(checkout, checkout / "dist")


@pytest.mark.parametrize(("path", "expected"), [
    ("a.js", "text/javascript; charset=utf-8"), ("a.mjs", "text/javascript; charset=utf-8"),
    ("a.css", "text/css; charset=utf-8"), ("a.json", "application/json; charset=utf-8"),
    ("site.webmanifest", "application/manifest+json; charset=utf-8"),
    ("a.svg", "image/svg+xml; charset=utf-8"), ("a.wasm", "application/wasm"),
    ("a.avif", "image/avif"), ("a.PNG", "image/png"), ("a.woff2", "font/woff2"),
    ("LICENSE", "application/octet-stream"), ("a.unknownext", "application/octet-stream"),
])
def test_content_types(path: str, expected: str):
    assert content_type(path) == expected
