"""The edge's semantics against a deployed fixture site (tests/fixtures/edge-site):
built and published by the platform from a git repository, served by the edge.
Redirects, rewrites and headers come from its buildspace.json, _redirects and
_headers."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest

from tests.e2e.conftest import FIXTURES, read_tree
from tests.support.gitserver import GitServer
from tests.support.platform import Platform

SOURCES = read_tree(FIXTURES / "edge-site")
JS = "/assets/app.3f2a1b9c.js"


class Site:
    def __init__(self, platform: Platform, host: str) -> None:
        self.platform, self.host = platform, host

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.platform.edge_port}{path}",
                         headers={"host": self.host, "accept-encoding": "identity",
                                  **headers}, timeout=10)

    def head(self, path: str) -> httpx.Response:
        return httpx.head(f"http://127.0.0.1:{self.platform.edge_port}{path}",
                          headers={"host": self.host, "accept-encoding": "identity"},
                          timeout=10)


@pytest.fixture(scope="module")
def site(platform: Platform, git_server: GitServer) -> Iterator[Site]:
    url = git_server.make_repo("edge-site", SOURCES)
    with platform.client() as c:
        project = c.post("/v1/projects", json={"name": "edge fixture", "git_url": url}).json()
        accepted = c.post(f"/v1/projects/{project['id']}/deployments").json()
    done = platform.wait_status(accepted["id"], {"READY", "FAILED"})
    assert done["status"] == "READY", done
    host = project["url"].split("://", 1)[1].split(":", 1)[0]
    platform.wait_site(host)
    yield Site(platform, host)


def body(name: str) -> bytes:
    return (Path(FIXTURES) / "edge-site" / name).read_bytes()


def test_directories_clean_urls_and_the_sites_404(site: Site) -> None:
    assert site.get("/").content == body("index.html")
    assert site.get("/docs/").content == body("docs/index.html")
    assert site.get("/docs").content == body("docs/index.html")
    about = site.get("/about")  # about.html; the unforced _redirects rule is shadowed
    assert about.status_code == 200 and about.content == body("about.html")
    assert site.get("/about.html").content == body("about.html")
    missing = site.get("/nope")
    assert missing.status_code == 404 and missing.content == body("404.html")
    assert site.get("/nope.js").status_code == 404  # no SPA fallback for this site


def test_configuration_files_and_dotfiles_are_never_served(site: Site) -> None:
    for path in ("/buildspace.json", "/_redirects", "/_headers", "/.env", "/%2e%2e/etc/passwd",
                 "/docs/..%2f..%2fbuildspace.json"):
        response = site.get(path)
        assert response.status_code in (400, 404), path
        assert b"redirects" not in response.content, path


def test_redirects_from_buildspace_json(site: Site) -> None:
    moved = site.get("/old-blog/hello?ref=x")
    assert (moved.status_code, moved.headers["location"]) == (308, "/blog/hello?ref=x")
    assert site.get("/blog/hello").content == body("blog/hello.html")
    # A redirect applies before the files: docs/intro.html exists, /docs/intro redirects.
    temporary = site.get("/docs/intro")
    assert (temporary.status_code, temporary.headers["location"]) == (307, "/docs/")
    external = site.get("/external")
    assert (external.status_code, external.headers["location"]) == (302,
                                                                     "https://example.com/")


def test_rewrites_and_netlify_rules(site: Site) -> None:
    shell = site.get("/app/settings/profile")
    assert shell.status_code == 200 and shell.content == body("app-shell.html")
    news = site.get("/news/hello")
    assert (news.status_code, news.headers["location"]) == (301, "/blog/hello")
    gone = site.get("/legacy")
    assert gone.status_code == 410 and gone.content == body("gone-page.html")
    forced = site.get("/forced-about")
    assert forced.status_code == 200 and forced.content == body("about.html")


def test_custom_headers(site: Site) -> None:
    js = site.get(JS)
    assert js.headers["x-asset"] == "yes" and js.headers["x-frame-options"] == "DENY"
    docs = site.get("/docs/")
    assert docs.headers["x-docs"] == "handbook"
    assert docs.headers.get_list("cache-control") == ["public, max-age=60"]
    assert site.get("/").headers["x-frame-options"] == "DENY"
    assert "x-docs" not in site.get("/").headers


def test_content_types(site: Site) -> None:
    for path, kind in (("/module.mjs", "text/javascript; charset=utf-8"),
                       ("/site.webmanifest", "application/manifest+json; charset=utf-8"),
                       ("/app.wasm", "application/wasm"), ("/pixel.avif", "image/avif"),
                       (JS, "text/javascript; charset=utf-8")):
        assert site.get(path).headers["content-type"] == kind, path


def test_cache_control_etag_and_last_modified(site: Site) -> None:
    js = site.get(JS)
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    index = site.get("/")
    assert index.headers["cache-control"] == "public, max-age=0, must-revalidate"
    assert site.get("/", **{"if-none-match": index.headers["etag"]}).status_code == 304
    modified = index.headers["last-modified"]
    assert site.get("/", **{"if-modified-since": modified}).status_code == 304
    assert site.get("/", **{"if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT"}
                    ).status_code == 200
    head = site.head(JS)
    assert head.content == b"" and int(head.headers["content-length"]) == len(body(JS[1:]))


def test_ranges(site: Site) -> None:
    whole = body(JS[1:])
    assert site.get(JS).headers["accept-ranges"] == "bytes"
    part = site.get(JS, range="bytes=100-199")
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    tail = site.get(JS, range="bytes=-10")
    assert tail.status_code == 206 and tail.content == whole[-10:]
    rest = site.get(JS, range=f"bytes={len(whole) - 5}-")
    assert rest.content == whole[-5:]
    outside = site.get(JS, range=f"bytes={len(whole)}-")
    assert outside.status_code == 416
    assert outside.headers["content-range"] == f"bytes */{len(whole)}"
    stale = site.get(JS, range="bytes=0-9", **{"if-range": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.content == whole


def test_compressed_variants(site: Site) -> None:
    whole = body(JS[1:])
    br = site.get(JS, **{"accept-encoding": "gzip, deflate, br"})
    assert br.headers["content-encoding"] == "br" and br.headers["vary"] == "Accept-Encoding"
    assert br.content == whole  # decoded by httpx
    assert brotli.decompress(_raw(site, JS, "br")) == whole
    assert len(_raw(site, JS, "br")) < len(whole) / 2
    gz = _raw(site, JS, "gzip")
    assert gzip.decompress(gz) == whole
    plain = site.get(JS, **{"accept-encoding": "br;q=0, gzip;q=0"})
    assert "content-encoding" not in plain.headers and plain.content == whole
    assert site.get(JS, **{"accept-encoding": "gzip"}).headers["etag"] != \
        site.get(JS).headers["etag"]
    tiny = site.get("/module.mjs", **{"accept-encoding": "br"})
    assert "content-encoding" not in tiny.headers  # too small to be worth it


def _raw(site: Site, path: str, encoding: str) -> bytes:
    """The body as sent (httpx would decode it)."""
    with httpx.stream("GET", f"http://127.0.0.1:{site.platform.edge_port}{path}",
                      headers={"host": site.host, "accept-encoding": encoding}) as response:
        assert response.headers["content-encoding"] == encoding
        return b"".join(response.iter_raw())


def test_a_bad_configuration_fails_the_build_with_the_reason(platform: Platform,
                                                             git_server: GitServer) -> None:
    files = {"index.html": b"<p>x</p>", "buildspace.json": json.dumps(
        {"redirects": [{"source": "old", "destination": "/new"}]}).encode()}
    url = git_server.make_repo("edge-bad-config", files)
    with platform.client() as c:
        project = c.post("/v1/projects", json={"name": "bad config", "git_url": url}).json()
        accepted = c.post(f"/v1/projects/{project['id']}/deployments").json()
    failed = platform.wait_status(accepted["id"], {"READY", "FAILED"})
    assert failed["status"] == "FAILED"
    assert failed["failure_reason"] == ("buildspace.json: redirects[0]: source 'old' must "
                                        "start with /")
    assert failed["failure_step"] == "output"  # named by the builder, in the event (v2)
