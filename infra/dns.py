"""DNS TXT look-ups for custom-domain verification (dnspython), bounded by a timeout.

``BUILDSPACE_DNS_RESOLVER`` (``host[:port]``) points them at one server, for tests
and for operators whose API host resolves through a split-horizon DNS; unset, the
system's resolver (``/etc/resolv.conf``) answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception
import dns.resolver

from infra.settings import Settings


@dataclass(frozen=True)
class TxtAnswer:
    """The TXT strings found at a name, or why none could be read."""

    values: list[str] = field(default_factory=list)
    problem: str | None = None


def nameserver(address: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port)."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, int(rest.removeprefix(":") or 53)
    if address.count(":") == 1:
        host, _, port = address.partition(":")
        return host, int(port)
    return address, 53


class TxtResolver:
    def __init__(self, settings: Settings) -> None:
        self.address = settings.dns_resolver
        self.timeout = settings.dns_timeout_seconds

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if not self.address:
            resolver = dns.asyncresolver.Resolver()
        else:
            resolver = dns.asyncresolver.Resolver(configure=False)
            host, port = nameserver(self.address)
            resolver.nameservers = [host]
            resolver.port = port
        resolver.lifetime = self.timeout
        return resolver

    async def lookup(self, name: str) -> TxtAnswer:
        """Every TXT string at ``name`` (a record's strings joined, as RFC 7208 does)."""
        try:
            answer = await self._resolver().resolve(name, "TXT", search=False)
        except dns.resolver.NXDOMAIN:
            return TxtAnswer(problem=f"{name} does not exist in DNS")
        except dns.resolver.NoAnswer:
            return TxtAnswer(problem=f"{name} has no TXT record")
        except dns.exception.Timeout:
            return TxtAnswer(problem=f"the DNS look-up of {name} timed out after "
                                     f"{self.timeout:g} s")
        except (dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration) as exc:
            return TxtAnswer(problem=f"no DNS server answered for {name}: {exc}")
        return TxtAnswer(values=[
            b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer])
