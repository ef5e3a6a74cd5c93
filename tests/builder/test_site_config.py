"""Reading a site's buildspace.json, _redirects and _headers (real files), and the
compressed variants made at publish time."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import brotli
import pytest

from builder.collect import collect
from builder.site_config import read_site_config, served_files
from builder.site_rules import SiteConfigError
from builder.variants import add_variants
from schemas.artifacts import HeaderRule, Rule
from schemas.path_patterns import compile_pattern, fill


def site(tmp_path: Path, files: dict[str, str], framework: str | None = None):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    out = tmp_path / "dist" if (tmp_path / "dist").is_dir() else tmp_path
    return read_site_config(tmp_path, out, collect(tmp_path, out, 10), framework)


def test_all_three_sources_in_order(tmp_path: Path) -> None:
    config = site(tmp_path, {
        "buildspace.json": json.dumps({
            "cleanUrls": True, "trailingSlash": False,
            "redirects": [{"source": "/a/:x", "destination": "/b/:x", "permanent": False}],
            "rewrites": [{"source": "/app/(.*)", "destination": "/app.html"}],
            "headers": [{"source": "/*", "headers": [{"key": "X-A", "value": "1"}]}]}),
        "dist/index.html": "x",
        "dist/_redirects": "/old/*  /new/:splat\n/f  /g.html  200!\n# comment\n\n/x /y 404\n",
        "dist/_headers": "/assets/*\n  X-B: 2\n  X-B: 3\n",
    })
    assert (config.clean_urls, config.trailing_slash, config.spa_fallback) == (True, False,
                                                                              False)
    assert config.rules == [
        Rule(source="/a/:x", destination="/b/:x", status=307, force=True),
        Rule(source="/old/*", destination="/new/:splat", status=301, force=False),
        Rule(source="/f", destination="/g.html", status=200, force=True),
        Rule(source="/x", destination="/y", status=404, force=False),
        Rule(source="/app/(.*)", destination="/app.html", status=200, force=False)]
    assert config.headers == [HeaderRule(source="/*", headers={"X-A": "1"}),
                              HeaderRule(source="/assets/*", headers={"X-B": "2, 3"})]


@pytest.mark.parametrize("framework, files, spa", [
    ("vite", {"dist/index.html": "x"}, True),
    ("create-react-app", {"dist/index.html": "x"}, True),
    ("vite", {"dist/index.html": "x", "dist/404.html": "x"}, False),
    ("vite", {"dist/index.html": "x", "dist/_redirects": "/*  /index.html  200\n"}, False),
    ("astro", {"dist/index.html": "x"}, False),
    ("angular", {"dist/index.html": "x"}, True),
    ("react-router", {"dist/index.html": "x"}, True),
    ("nextjs", {"dist/index.html": "x"}, False),
    (None, {"dist/index.html": "x", "buildspace.json": '{"spa": true}'}, True),
    ("vite", {"dist/index.html": "x", "buildspace.json": '{"spa": false}'}, False),
])
def test_spa_fallback_default(tmp_path: Path, framework: str | None, files: dict[str, str],
                              spa: bool) -> None:
    assert site(tmp_path, files, framework).spa_fallback is spa


@pytest.mark.parametrize("files, message", [
    ({"buildspace.json": "{nope"}, "buildspace.json is not valid JSON"),
    ({"buildspace.json": "[]"}, "buildspace.json must be a JSON object"),
    ({"buildspace.json": '{"redirect": []}'}, "buildspace.json: unknown key 'redirect'"),
    ({"buildspace.json": '{"cleanUrls": "yes"}'}, "buildspace.json: cleanUrls must be true"),
    ({"buildspace.json": '{"redirects": [{"source": "/a"}]}'},
     "buildspace.json: redirects[0].destination must be a string"),
    ({"buildspace.json": '{"redirects": [{"source": "/a/:x", "destination": "/b/:y"}]}'},
     "buildspace.json: redirects[0]: destination '/b/:y' uses :y, which the source does "
     "not define"),
    ({"buildspace.json": '{"redirects": [{"source": "/a", "destination": "/b", '
                         '"statusCode": 200}]}'}, "statusCode must be one of"),
    ({"buildspace.json": '{"rewrites": [{"source": "/a", "destination": "https://x.y/"}]}'},
     "proxying to other hosts is not supported"),
    ({"buildspace.json": '{"headers": [{"source": "/a", "headers": [{"key": "Content-Length",'
                         ' "value": "1"}]}]}'}, "the header Content-Length is set by the edge"),
    ({"buildspace.json": '{"headers": [{"source": "/a", "headers": [{"key": "X-A", '
                         '"value": "a\\r\\nb"}]}]}'}, "must be printable ASCII"),
    ({"_redirects": "/a\n"}, "_redirects line 1: expected `from to [status]`"),
    ({"_redirects": "/a /b 999\n"}, "_redirects line 1: status '999' is not one of"),
    ({"_redirects": "/a /b 302 Country=us\n"}, "conditions (Country=us) are not supported"),
    ({"_redirects": "/a id=:id /b 301\n"}, "query parameter matching is not supported"),
    ({"_redirects": "a /b\n"}, "_redirects line 1: source 'a' must start with /"),
    ({"_headers": "  X-A: 1\n"}, "_headers line 1: a header before any path"),
    ({"_headers": "/a\n  nonsense\n"}, "_headers line 2: expected `Name: value`"),
])
def test_bad_configuration_names_the_file_and_the_problem(tmp_path: Path,
                                                          files: dict[str, str],
                                                          message: str) -> None:
    with pytest.raises(SiteConfigError) as failed:
        site(tmp_path, {"index.html": "x", **files})
    assert message in str(failed.value)


def test_configuration_files_are_not_served(tmp_path: Path) -> None:
    for name in ("index.html", "_redirects", "_headers", "buildspace.json"):
        (tmp_path / name).write_text("{}" if name.endswith(".json") else "")
    files = collect(tmp_path, tmp_path, 10)
    assert [f.path for f in served_files(files, tmp_path, tmp_path)] == ["index.html"]
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "buildspace.json").write_text("{}")
    kept = served_files(collect(tmp_path, tmp_path / "dist", 10), tmp_path, tmp_path / "dist")
    assert [f.path for f in kept] == ["buildspace.json"]  # not the configuration there


@pytest.mark.parametrize("source, path, values", [
    ("/blog/:slug", "/blog/hello", {"slug": "hello"}),
    ("/blog/:slug", "/blog/a/b", None),
    ("/blog/:slug.html", "/blog/hi.html", {"slug": "hi"}),
    ("/docs/*", "/docs/a/b/c", {"splat": "a/b/c"}),
    ("/docs/:rest*", "/docs/", {"rest": ""}),
    ("/app/(.*)", "/app/x/y", {"$1": "x/y"}),
    ("/a.b", "/aXb", None),
])
def test_patterns(source: str, path: str, values: dict[str, str] | None) -> None:
    assert compile_pattern(source).match(path) == values


def test_fill_keeps_url_ports_and_fills_names() -> None:
    assert fill("https://x.y:8080/n/:slug/$1", {"slug": "s", "$1": "g"}) == \
        "https://x.y:8080/n/s/g"


def test_variants_are_smaller_and_decompress_to_the_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "app.js").write_text("const value = 1;\n" * 500)
    (out / "tiny.js").write_text("x")
    (out / "photo.png").write_bytes(b"\x89PNG" + bytes(range(256)) * 8)
    files = {f.path: f for f in add_variants(collect(tmp_path, out, 10), tmp_path / "v")}
    app = files["app.js"]
    assert {v.encoding for v in app.variants} == {"br", "gzip"}
    data = (out / "app.js").read_bytes()
    for v in app.variants:
        packed = v.source.read_bytes()
        assert v.size == len(packed) < len(data) / 10
        assert (brotli.decompress(packed) if v.encoding == "br" else
                gzip.decompress(packed)) == data
    assert files["tiny.js"].variants == () and files["photo.png"].variants == ()
