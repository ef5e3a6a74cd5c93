"""The edge end to end: a published site, routes in Kafka, requests over real HTTP."""

from __future__ import annotations

import hashlib
import http.client
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from edge.server import EdgeServer
from infra.settings import Settings
from schemas.artifacts import SiteConfig
from tests.edge.support import (
    LoopThread,
    create_routes_topic,
    produce,
    publish,
    route,
)
from tests.support.waiting import eventually

HTML = "text/html; charset=utf-8"
SITE = {
    "index.html": (b"<h1>home</h1>", HTML),
    "about/index.html": (b"<h1>about</h1>", HTML),
    "assets/app-3f2a1b.js": (b"console.log('app')", "text/javascript; charset=utf-8"),
    "style.css": (b"body{}", "text/css; charset=utf-8"),
    "404.html": (b"<h1>lost?</h1>", HTML),
    ".env": (b"SECRET=hunter2", "text/plain"),
    ".git/config": (b"[core]", "text/plain"),
}
PLAIN = {"index.html": (b"<h1>plain</h1>", HTML)}
PAGES = {"index.html": (b"home", HTML), "about.html": (b"about", HTML),
         "docs/index.html": (b"docs", HTML), "app.js": (b"js", "text/javascript")}
SITES = {
    "spa": SiteConfig(spa_fallback=True),
    "slash": SiteConfig(clean_urls=True, trailing_slash=True),
    "noslash": SiteConfig(clean_urls=True, trailing_slash=False),
    "exact": SiteConfig(clean_urls=False),
}


@dataclass
class Edge:
    url: str
    settings: Settings
    loop: LoopThread
    server: EdgeServer

    def get(self, host: str, path: str = "/", **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers={"host": host, **kwargs.pop("headers", {})},
                         **kwargs)

    def raw(self, host: str, path: str, method: str = "GET") -> tuple[int, bytes]:
        """A request with the path sent byte for byte (httpx would normalise it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def routes(self, *records: tuple[str, bytes | None]) -> None:
        self.loop.run(produce(self.settings, list(records)))


@pytest.fixture(scope="module")
def edge(make_settings: Callable[[], Settings], s3: Any, loop: LoopThread) -> Iterator[Edge]:
    settings = make_settings()
    publish(s3, settings.artifacts_bucket, "dep-site-1", SITE)
    publish(s3, settings.artifacts_bucket, "dep-plain-1", PLAIN)
    for name, config in SITES.items():
        publish(s3, settings.artifacts_bucket, f"dep-{name}", PAGES, config)
    loop.run(create_routes_topic(settings))
    loop.run(produce(settings, [
        ("my-site", route("my-site", "dep-site-1")),
        ("0123456789ab-my-site", route("0123456789ab-my-site", "dep-site-1")),
        ("www.example.com", route("www.example.com", "dep-site-1")),
        ("plain", route("plain", "dep-plain-1")),
        ("gone", route("gone", "dep-plain-1")),
        ("gone", None),
        ("broken", b"{not json"),
        ("unpublished", route("unpublished", "dep-never-published")),
        *((name, route(name, f"dep-{name}")) for name in SITES),
    ]))
    server = EdgeServer(settings)
    loop.run(server.start())
    try:
        yield Edge(f"http://127.0.0.1:{server.port}", settings, loop, server)
    finally:
        loop.run(server.stop())


def test_serves_the_whole_route_table_as_soon_as_it_starts(edge: Edge) -> None:
    response = edge.get("my-site.localhost")
    assert response.status_code == 200
    assert response.text == "<h1>home</h1>"
    assert response.headers["content-type"] == HTML
    assert response.headers["x-buildspace-deployment"] == "dep-site-1"
    assert edge.get("plain.localhost").text == "<h1>plain</h1>"


def test_host_is_case_insensitive_and_ignores_port_and_trailing_dot(edge: Edge) -> None:
    for host in ("MY-SITE.LocalHost:8000", "my-site.localhost.", "0123456789ab-my-site.localhost",
                 "WWW.Example.com:443"):
        assert edge.get(host).text == "<h1>home</h1>", host


def test_directory_index_with_and_without_trailing_slash(edge: Edge) -> None:
    assert edge.get("my-site.localhost", "/about/").text == "<h1>about</h1>"
    assert edge.get("my-site.localhost", "/about").text == "<h1>about</h1>"
    assert edge.get("my-site.localhost", "/index.html?x=1").text == "<h1>home</h1>"


def test_content_type_and_cache_control(edge: Edge) -> None:
    js = edge.get("my-site.localhost", "/assets/app-3f2a1b.js")
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert js.headers["content-length"] == str(len(js.content))
    css = edge.get("my-site.localhost", "/style.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"] == "public, max-age=0, must-revalidate"
    page = edge.get("my-site.localhost", "/")
    assert page.headers["cache-control"] == "public, max-age=0, must-revalidate"


def test_missing_file_serves_the_sites_404_page(edge: Edge) -> None:
    response = edge.get("my-site.localhost", "/nope")
    assert response.status_code == 404
    assert response.text == "<h1>lost?</h1>"
    assert response.headers["x-buildspace-deployment"] == "dep-site-1"


def test_missing_file_without_a_404_page_gets_the_built_in_one(edge: Edge) -> None:
    response = edge.get("plain.localhost", "/nope")
    assert response.status_code == 404
    assert "404: Not Found" in response.text
    assert response.headers["content-type"] == HTML


@pytest.mark.parametrize("host", ["nobody.localhost", "localhost", "plain", "", "gone.localhost",
                                  "broken.localhost", "a.plain.localhost"])
def test_unknown_hosts_get_404(edge: Edge, host: str) -> None:
    response = edge.get(host)
    assert response.status_code == 404
    assert "x-buildspace-deployment" not in response.headers


@pytest.mark.parametrize("path", [
    "/../", "/../../etc/passwd", "/%2e%2e/", "/%2E%2E/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd",
    "/about/..%2f.env", "/.%2e/index.html", "/about\\..\\.env", "/..\\..\\etc\\passwd",
    "/%5c..%5c.env", "/%252e%252e/", "/./index.html", "//etc/passwd", "/.env", "/.env/",
    "/%2eenv", "/.git/config", "/.git/", "/about/./index.html",
])
def test_paths_never_leave_the_site(edge: Edge, path: str) -> None:
    status, body = edge.raw("my-site.localhost", path)
    assert status in (400, 404)
    assert b"hunter2" not in body and b"[core]" not in body and b"root:" not in body


@pytest.mark.parametrize("path", ["/%00", "/index.html%00.js", "/%ff", "/" + "a" * 5000])
def test_malformed_paths_are_bad_requests(edge: Edge, path: str) -> None:
    status, _ = edge.raw("my-site.localhost", path)
    assert status == 400


def test_head_has_headers_but_no_body(edge: Edge) -> None:
    get = edge.get("my-site.localhost", "/style.css")
    head = httpx.head(edge.url + "/style.css", headers={"host": "my-site.localhost"})
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "cache-control"):
        assert head.headers[name] == get.headers[name]


def test_a_head_first_does_not_empty_the_next_get(edge: Edge) -> None:
    head = httpx.head(edge.url + "/assets/app-3f2a1b.js", headers={"host": "my-site.localhost"})
    assert head.status_code == 200 and head.content == b""
    for _ in range(2):  # the second from the response cache
        body = edge.get("my-site.localhost", "/assets/app-3f2a1b.js").content
        assert body == SITE["assets/app-3f2a1b.js"][0]


def test_etag_and_if_none_match(edge: Edge) -> None:
    first = edge.get("my-site.localhost", "/style.css")
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(SITE["style.css"][0]).hexdigest()}"'
    again = edge.get("my-site.localhost", "/style.css", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = edge.get("my-site.localhost", "/style.css", headers={"if-none-match": '"other"'})
    assert other.status_code == 200


def test_route_to_a_deployment_without_artifacts_is_a_bad_gateway(edge: Edge) -> None:
    response = edge.get("unpublished.localhost")
    assert response.status_code == 502
    assert response.headers["x-buildspace-deployment"] == "dep-never-published"


def test_only_get_and_head(edge: Edge) -> None:
    response = httpx.post(edge.url + "/", headers={"host": "my-site.localhost"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_route_updates_are_followed_live(edge: Edge, s3: Any) -> None:
    bucket = edge.settings.artifacts_bucket
    publish(s3, bucket, "dep-live-1", {"index.html": (b"v1", HTML)})
    publish(s3, bucket, "dep-live-2", {"index.html": (b"v2", HTML)})
    edge.routes(("live", route("live", "dep-live-1")))
    eventually(lambda: edge.get("live.localhost").text == "v1")
    edge.routes(("live", route("live", "dep-live-2", 2)))
    eventually(lambda: edge.get("live.localhost").text == "v2")
    assert edge.get("live.localhost").headers["x-buildspace-deployment"] == "dep-live-2"
    edge.routes(("live", None))
    eventually(lambda: edge.get("live.localhost").status_code == 404)


def test_byte_identical_requests_are_answered_from_memory_until_the_route_changes(
        edge: Edge, s3: Any) -> None:
    bucket = edge.settings.artifacts_bucket
    publish(s3, bucket, "dep-again-1", {"index.html": (b"first", HTML)})
    publish(s3, bucket, "dep-again-2", {"index.html": (b"second", HTML)})
    edge.routes(("again", route("again", "dep-again-1")))
    eventually(lambda: edge.get("again.localhost").text == "first")
    request = b"GET / HTTP/1.1\r\nHost: again.localhost\r\n\r\n"
    with socket.create_connection(("127.0.0.1", edge.server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        answers = []
        for _ in range(4):  # parsed, then the cached answer, then replayed by bytes
            sock.sendall(request)
            answers.append(read_response(reader))
        assert len(set(answers)) == 1 and answers[0][1] == b"first"
        assert edge.server._http is not None and len(edge.server._http.replays) >= 1
        edge.routes(("again", route("again", "dep-again-2", 2)))

        def switched() -> bool:
            sock.sendall(request)
            return read_response(reader)[1] == b"second"
        eventually(switched)
        sock.sendall(request + request)  # pipelined: parsed, both answered in order
        assert [read_response(reader)[1] for _ in range(2)] == [b"second", b"second"]


def read_response(reader: Any) -> tuple[bytes, bytes]:
    """(status line, body) of one response on a keep-alive connection."""
    status = reader.readline()
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, reader.read(length)


def raw_request(edge: Edge, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", edge.server.port), timeout=10) as sock:
        sock.sendall(request)
        return sock.makefile("rb").read()


def test_huge_paths_are_refused(edge: Edge) -> None:
    status, _ = edge.raw("my-site.localhost", "/" + "a" * 100_000)
    assert status == 414  # URI Too Long, from the server before the app sees it


def test_request_without_host_is_not_found(edge: Edge) -> None:
    assert raw_request(edge, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 404 ")


def test_absolute_form_request_cannot_escape_either(edge: Edge) -> None:
    reply = raw_request(edge, b"GET http://my-site.localhost/../.env HTTP/1.1\r\n"
                              b"Host: my-site.localhost\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 404 ") and b"hunter2" not in reply


def status_and_location(edge: Edge, host: str, path: str) -> tuple[int, str | None]:
    response = edge.get(f"{host}.localhost", path)
    return response.status_code, response.headers.get("location")


def test_spa_fallback_serves_index_for_pages_but_not_for_assets(edge: Edge) -> None:
    for path in ("/dashboard", "/users/42/settings", "/about"):
        response = edge.get("spa.localhost", path)
        assert response.status_code == 200, path
    assert edge.get("spa.localhost", "/dashboard").text == "home"
    assert edge.get("spa.localhost", "/about").text == "about"  # a real page wins
    assert edge.get("spa.localhost", "/missing.js").status_code == 404
    assert edge.get("plain.localhost", "/dashboard").status_code == 404  # off by default


def test_trailing_slash_added_and_clean_urls_enforced(edge: Edge) -> None:
    assert status_and_location(edge, "slash", "/about") == (308, "/about/")
    assert edge.get("slash.localhost", "/about/").text == "about"
    assert status_and_location(edge, "slash", "/about.html") == (308, "/about/")
    assert status_and_location(edge, "slash", "/docs") == (308, "/docs/")
    assert status_and_location(edge, "slash", "/docs/index.html") == (308, "/docs/")
    assert status_and_location(edge, "slash", "/index.html") == (308, "/")
    assert status_and_location(edge, "slash", "/about?x=1") == (308, "/about/?x=1")
    assert edge.get("slash.localhost", "/app.js").text == "js"  # files keep their names


def test_trailing_slash_removed(edge: Edge) -> None:
    assert status_and_location(edge, "noslash", "/about/") == (308, "/about")
    assert status_and_location(edge, "noslash", "/about.html") == (308, "/about")
    assert status_and_location(edge, "noslash", "/docs/") == (308, "/docs")
    assert status_and_location(edge, "noslash", "/docs/index.html") == (308, "/docs")
    assert edge.get("noslash.localhost", "/docs").text == "docs"
    assert edge.get("noslash.localhost", "/").text == "home"


def test_clean_urls_can_be_turned_off(edge: Edge) -> None:
    assert edge.get("exact.localhost", "/about").status_code == 404
    assert edge.get("exact.localhost", "/about.html").text == "about"
