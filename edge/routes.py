"""The edge's in-memory route table: hostname -> the deployment it serves.

Filled from the compacted routes topic by ``edge.follower``; keys are hostname labels
under the base domain (``my-site``, ``0123456789ab-my-site``) or, when they contain a
dot, full custom hostnames (``www.example.com``).
"""

from __future__ import annotations

import re

from schemas.routes import Route

# Deployment ids end up in cache file names and response headers.
DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def normalize_host(host_header: str) -> str:
    """Lowercase ``host_header`` without its port and trailing dot."""
    host = host_header.strip().lower()
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    return host.rstrip(".")


class RouteTable:
    """Hostname keys to routes; ``apply`` mirrors one record of the routes topic."""

    def __init__(self, base_domain: str) -> None:
        self._suffix = "." + normalize_host(base_domain)
        self._routes: dict[str, Route] = {}
        self.version = 0  # counts changes: an answer remembered at one version is stale after

    def __len__(self) -> int:
        return len(self._routes)

    def apply(self, key: str, value: bytes | None) -> None:
        """Set ``key`` to the Route JSON in ``value``; a tombstone (None) removes it.

        Raises ``ValueError`` (pydantic's ``ValidationError`` is one) for a malformed
        value, leaving the table as is.
        """
        name = normalize_host(key)
        self.version += 1
        if value is None:
            self._routes.pop(name, None)
            return
        route = Route.model_validate_json(value)
        if not DEPLOYMENT_ID.fullmatch(route.deployment_id):
            raise ValueError(f"invalid deployment id {route.deployment_id!r}")
        self._routes[name] = route

    def lookup(self, host_header: str) -> Route | None:
        """The route a request's Host header selects, if any."""
        host = normalize_host(host_header)
        if host.endswith(self._suffix):
            label = host[: -len(self._suffix)]
            if label and "." not in label:
                return self._routes.get(label)
        # Keys without a dot are labels: reachable only under the base domain.
        return self._routes.get(host) if "." in host else None
