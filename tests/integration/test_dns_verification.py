"""TXT look-ups for domain verification against a real DNS server on 127.0.0.1."""


import pytest

from infra.dns import TxtResolver, nameserver
from infra.settings import Settings
from tests.support.dns import DnsServer


@pytest.fixture
def dns_server():
    with DnsServer() as server:
        yield server


async def lookup(server: DnsServer, name: str, timeout: float = 2.0):
    settings = Settings(dns_resolver=server.address, dns_timeout_seconds=timeout)
    return await TxtResolver(settings).lookup(name)


@pytest.mark.asyncio
async def test_every_txt_value_at_the_name_is_returned(dns_server):
    dns_server.txt["_buildspace.www.example.test"] = ["v=spf1 -all", "buildspace-verify=abc"]
    answer = await lookup(dns_server, "_buildspace.www.example.test")
    assert sorted(answer.values) == ["buildspace-verify=abc", "v=spf1 -all"]
    assert answer.problem is None


@pytest.mark.asyncio
async def test_a_missing_record_says_so(dns_server):
    answer = await lookup(dns_server, "_buildspace.nothing.example.test")
    assert answer.values == [] and "does not exist" in (answer.problem or "")
    dns_server.txt["_buildspace.empty.example.test"] = []
    answer = await lookup(dns_server, "_buildspace.empty.example.test")
    assert answer.values == [] and "no TXT record" in (answer.problem or "")


@pytest.mark.asyncio
async def test_a_server_that_does_not_answer_times_out_within_the_setting(dns_server):
    dns_server.silent.add("_buildspace.slow.example.test")
    answer = await lookup(dns_server, "_buildspace.slow.example.test", timeout=0.5)
    assert answer.values == [] and "timed out after 0.5 s" in (answer.problem or "")


def test_resolver_addresses():
    assert nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert nameserver("10.0.0.2") == ("10.0.0.2", 53)
    assert nameserver("[::1]:5300") == ("::1", 5300)
