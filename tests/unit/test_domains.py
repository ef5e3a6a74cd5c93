"""Custom domains without any service: hostname validation and the write-side rules."""

import pytest
from pydantic import ValidationError

from commands.deployments.decide import decide
from commands.domains.decide import add_domain, remove_domain, verify_domain
from commands.projects.decide import ProjectState, evolve
from schemas.commands import AddDomain, CreateProject, RemoveDomain, command_adapter
from schemas.domains import check_hostname, is_under, txt_name, txt_value
from schemas.envelope import Meta
from schemas.errors import Conflict, NotFound
from schemas.events import DomainAdded, DomainRemoved, DomainVerified, parse_event

META = Meta(correlation_id="c1")


@pytest.mark.parametrize(("given", "stored"), [
    ("www.example.com", "www.example.com"),
    ("  WWW.Example.COM. ", "www.example.com"),
    ("Bücher.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("a-b.c-d.example.test", "a-b.c-d.example.test"),
])
def test_hostnames_are_stored_lowercase_in_ascii(given, stored):
    assert check_hostname(given) == stored


@pytest.mark.parametrize(("given", "problem"), [
    ("www.example.com:8080", "port"),
    ("https://www.example.com", "scheme"),
    ("www.example.com/path", "path"),
    ("192.168.1.10", "IP address"),
    ("[::1]", "IP address"),
    ("localhost", "two labels"),
    ("-bad.example.com", "must not start or end"),
    ("a..example.com", "label"),
    ("under_score.example.com", "label"),
    ("*.example.com", "label"),
    ("x" * 64 + ".example.com", "label"),
    ("example.123", "numeric"),
    ("xn--zz.example", "valid domain name"),
    (".".join(["abcdefghij"] * 24) + ".com", "253"),
    ("", "empty"),
])
def test_bad_hostnames_say_what_is_wrong(given, problem):
    with pytest.raises(ValueError, match=problem):
        check_hostname(given)


def test_the_base_domain_and_names_under_it_are_recognised():
    assert is_under("my-site.localhost", "localhost")
    assert is_under("apps.example.com", "apps.example.com.")
    assert not is_under("notlocalhost.test", "localhost")


def test_domain_commands_validate_their_hostname_on_every_intake():
    cmd = command_adapter.validate_python(
        {"type": "AddDomain", "project_id": "p1", "hostname": "WWW.Example.com"})
    assert isinstance(cmd, AddDomain) and cmd.hostname == "www.example.com"
    with pytest.raises(ValidationError, match="hostname"):
        command_adapter.validate_python(
            {"type": "RemoveDomain", "project_id": "p1", "hostname": "10.0.0.1"})


def project() -> ProjectState:
    state = ProjectState(project_id="p1")
    for event in decide(state, CreateProject(name="site", git_url="https://github.com/a/b"),
                        META):
        state = evolve(state, event)
    return state


def apply_all(state: ProjectState, events: list) -> ProjectState:
    for event in events:
        state = evolve(state, event)
    return state


def test_adding_a_domain_records_its_token_and_waits_for_verification():
    [added] = add_domain(project(), AddDomain(project_id="p1", hostname="www.example.com"),
                         "tok", False, META)
    assert isinstance(added, DomainAdded)
    assert (added.hostname, added.token, added.stream_id) == ("www.example.com", "tok", "p1")
    assert parse_event(added.model_dump(mode="json")) == added
    state = evolve(project(), added)
    assert not state.domains["www.example.com"].verified
    assert (txt_name(added.hostname), txt_value("tok")) == (
        "_buildspace.www.example.com", "buildspace-verify=tok")


def test_a_domain_the_settings_vouch_for_is_verified_at_once():
    events = add_domain(project(), AddDomain(project_id="p1", hostname="a.example.test"),
                        "tok", True, META)
    assert [type(e) for e in events] == [DomainAdded, DomainVerified]
    assert events[1].method == "setting" and events[1].domain_id == events[0].domain_id
    assert apply_all(project(), events).domains["a.example.test"].verified


def test_adding_twice_conflicts_and_unknown_projects_are_not_found():
    cmd = AddDomain(project_id="p1", hostname="www.example.com")
    state = apply_all(project(), add_domain(project(), cmd, "tok", False, META))
    with pytest.raises(Conflict):
        add_domain(state, cmd, "tok2", False, META)
    with pytest.raises(NotFound):
        add_domain(ProjectState(project_id="p1"), cmd, "tok", False, META)


def test_verifying_is_once_and_removing_forgets_the_domain():
    cmd = AddDomain(project_id="p1", hostname="www.example.com")
    state = apply_all(project(), add_domain(project(), cmd, "tok", False, META))
    [verified] = verify_domain(state, "www.example.com", "dns", META)
    state = evolve(state, verified)
    assert verify_domain(state, "www.example.com", "dns", META) == []
    [removed] = remove_domain(state, RemoveDomain(project_id="p1", hostname=cmd.hostname), META)
    assert isinstance(removed, DomainRemoved) and removed.domain_id == verified.domain_id
    state = evolve(state, removed)
    assert state.domains == {}
    with pytest.raises(NotFound):
        verify_domain(state, "www.example.com", "dns", META)
    with pytest.raises(NotFound):
        remove_domain(state, RemoveDomain(project_id="p1", hostname=cmd.hostname), META)
