"""Custom domains: the shape of a hostname a project may claim, and the DNS TXT record
that proves the project's owner controls it.

A hostname is stored in its ASCII form (IDNA, lowercase, no trailing dot): the form a
browser sends in the Host header.
"""

from __future__ import annotations

import ipaddress
import re

import idna

LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
TXT_PREFIX = "_buildspace"
TXT_VALUE_PREFIX = "buildspace-verify="


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def _to_ascii(value: str) -> str:
    try:
        return idna.encode(value, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"must be a valid domain name ({exc})") from None


def check_hostname(value: str) -> str:
    """``value`` as a lowercase ASCII hostname; ``ValueError`` says what is wrong."""
    host = value.strip().rstrip(".")
    if "://" in host or "/" in host or "@" in host:
        raise ValueError("must be a hostname only, without scheme, path or user")
    if _is_ip(host):
        raise ValueError("must be a domain name, not an IP address")
    if ":" in host:
        raise ValueError("must not include a port")
    if not host:
        raise ValueError("must not be empty")
    host = _to_ascii(host) if not host.isascii() else host.lower()
    labels = host.split(".")
    if len(labels) < 2:
        raise ValueError("must have at least two labels, like www.example.com")
    bad = next((label for label in labels if not LABEL_RE.match(label)), None)
    if bad is not None:
        raise ValueError(f"label {bad!r} must be 1-63 letters, digits or '-', and must not "
                         "start or end with '-'")
    if labels[-1].isdigit():
        raise ValueError("the top-level label must not be numeric")
    if len(host) > 253:
        raise ValueError("must be at most 253 characters")
    if host.startswith("xn--") or ".xn--" in host:
        _to_ascii(host)  # a punycode label must decode
    return host


def is_under(hostname: str, domain: str) -> bool:
    """Whether ``hostname`` is ``domain`` or a name below it."""
    domain = domain.lower().rstrip(".")
    return hostname == domain or hostname.endswith("." + domain)


def txt_name(hostname: str) -> str:
    """Where the verification TXT record lives."""
    return f"{TXT_PREFIX}.{hostname}"


def txt_value(token: str) -> str:
    return f"{TXT_VALUE_PREFIX}{token}"
