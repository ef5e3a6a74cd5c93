"""A real smart-HTTP git server for tests: ``git http-backend`` behind a threaded WSGI
server on 127.0.0.1, serving bare repositories from a directory.

    with GitServer(tmp_path) as server:
        url = server.make_repo("site", {"index.html": "<p>hi</p>"})
        sha = server.commit("site", {"index.html": "<p>v2</p>"})
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

Files = Mapping[str, bytes | str]

# A fixed identity and clock-free environment, so repositories are reproducible.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Buildspace Tests", "GIT_AUTHOR_EMAIL": "tests@buildspace.invalid",
    "GIT_COMMITTER_NAME": "Buildspace Tests", "GIT_COMMITTER_EMAIL": "tests@buildspace.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0",
}
CGI_HEADERS = ("CONTENT_TYPE", "QUERY_STRING", "REQUEST_METHOD", "PATH_INFO", "REMOTE_ADDR",
               "HTTP_GIT_PROTOCOL", "HTTP_CONTENT_ENCODING")


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Requests are not test output."""


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with the fixed test identity; return stdout."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True)
    return done.stdout.decode().strip()


def _read_chunked(stream: Any) -> bytes:
    """Decode a chunked request body (git sends large pushes/fetch requests this way)."""
    body = bytearray()
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            stream.readline()
            return bytes(body)
        body += stream.read(size)
        stream.readline()


def _request_body(environ: dict[str, Any]) -> bytes:
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return _read_chunked(environ["wsgi.input"])
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _parse_cgi(output: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, blank, body = output.partition(b"\r\n\r\n")
    if not blank:
        head, blank, body = output.partition(b"\n\n")
    status, headers = "200 OK", []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = value.strip()
        else:
            headers.append((name.strip(), value.strip()))
    return status, headers, body


class GitServer:
    """Bare repositories under ``root`` served over smart HTTP at ``base_url``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.repos = self.root / "repos"
        self.work = self.root / "work"
        self.repos.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self._server = make_server("127.0.0.1", 0, self._app, _ThreadingWSGIServer,
                                   handler_class=_QuietHandler)
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GitServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}.git"

    def make_repo(self, name: str, files: Files, branch: str = "main") -> str:
        """A new repository with one commit of ``files`` on ``branch``; returns its URL."""
        bare, work = self.repos / f"{name}.git", self.work / name
        if bare.exists():
            raise FileExistsError(f"repository {name!r} exists")
        git("init", "--quiet", "--bare", "--initial-branch", branch, str(bare))
        git("init", "--quiet", "--initial-branch", branch, str(work))
        git("remote", "add", "origin", str(bare), cwd=work)
        self.commit(name, files, branch=branch)
        return self.url(name)

    def commit(self, name: str, files: Files, branch: str = "main", *,
               delete: Iterable[str] = (), message: str = "update") -> str:
        """Write ``files`` (and remove ``delete``) on ``branch``, commit, push; returns the sha."""
        work = self.work / name
        git("checkout", "--quiet", "-B", branch, cwd=work)
        for path, content in files.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        for path in delete:
            git("rm", "--quiet", "-r", "--", path, cwd=work)
        git("add", "--all", cwd=work)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
        git("push", "--quiet", "origin", f"{branch}:{branch}", cwd=work)
        return self.head(name, branch)

    def head(self, name: str, ref: str = "main") -> str:
        """The commit sha ``ref`` points at in the served repository."""
        return git("--git-dir", str(self.repos / f"{name}.git"), "rev-parse", ref)

    def remove(self, name: str) -> None:
        shutil.rmtree(self.repos / f"{name}.git", ignore_errors=True)
        shutil.rmtree(self.work / name, ignore_errors=True)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        env = {k: environ[k] for k in CGI_HEADERS if environ.get(k)}
        body = _request_body(environ)
        env |= {"CONTENT_LENGTH": str(len(body)), "GIT_PROJECT_ROOT": str(self.repos),
                "GIT_HTTP_EXPORT_ALL": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
        done = subprocess.run(["git", "http-backend"], input=body, env=env,
                              capture_output=True, check=False)
        status, headers, payload = _parse_cgi(done.stdout)
        start_response(status, headers)
        return iter([payload])
