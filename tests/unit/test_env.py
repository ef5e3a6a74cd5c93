"""Build variables without any service: changing some of them (``PATCH .../env``), the
state that keeps their ciphertext, and the dotenv lines ``buildspace env pull`` writes."""

from __future__ import annotations

import io

import pytest
from dotenv import dotenv_values
from pydantic import ValidationError

from commands.projects.decide import ProjectState, change_env, evolve, set_env
from infra.console_env import dotenv_line
from schemas.builds import BuildSettings
from schemas.envelope import Meta
from schemas.errors import NotFound
from schemas.events import ProjectCreated, ProjectEnvSet
from schemas.requests import EnvPatchBody

META = Meta(correlation_id="c1")


def created() -> ProjectState:
    made = ProjectCreated(stream_id="p1", project_id="p1", name="site", subdomain="site",
                          git_url="", branch="main", settings=BuildSettings())
    return evolve(ProjectState(project_id="p1"), made)


def test_the_state_keeps_the_last_ciphertext_of_the_variables():
    state = created()
    assert state.env_ciphertext == ""  # and so is a state saved before it was kept
    for ciphertext in ("first", "second"):
        [event] = set_env(state, ["B", "A"], ciphertext, META)
        assert isinstance(event, ProjectEnvSet) and event.names == ["A", "B"]
        state = evolve(state, event)
        assert state.env_ciphertext == ciphertext
    saved = ProjectState.model_validate(state.model_dump(mode="json"))
    assert saved.env_ciphertext == "second"
    old = state.model_dump(mode="json")
    del old["env_ciphertext"]
    assert ProjectState.model_validate(old).env_ciphertext == ""


def test_a_change_adds_replaces_and_removes_and_keeps_the_rest():
    current = {"KEEP": "k", "UPDATE": "old", "DROP": "d"}
    merged = change_env(current, {"UPDATE": "new", "ADD": "a"}, ["DROP"])
    assert merged == {"KEEP": "k", "UPDATE": "new", "ADD": "a"}
    assert current == {"KEEP": "k", "UPDATE": "old", "DROP": "d"}


def test_removing_a_variable_that_is_not_set_is_not_found_and_names_it():
    with pytest.raises(NotFound) as info:
        change_env({"A": "1"}, {"B": "2"}, ["A", "TYPO"])
    assert info.value.field == "unset" and "TYPO" in info.value.message


@pytest.mark.parametrize(("body", "field"), [
    ({"set": {"A": "1"}, "unset": ["A"]}, "unset"),
    ({"set": {"PATH": "/evil"}}, "set"),
    ({"set": {"BUILDSPACE_X": "1"}}, "set"),
    ({"set": {"not-a-name": "1"}}, "set"),
    ({"set": {"A": "nul\x00"}}, "set"),
    ({"set": {"A": "x" * 70000}}, "set"),
    ({"set": {f"V{i}": "1" for i in range(201)}}, "set"),
    ({"unset": ["HOME"]}, "unset"),
    ({"unset": [f"V{i}" for i in range(201)]}, "unset"),
    ({"set": "not a map"}, "set"),
    ({"vars": {"A": "1"}}, "vars"),
])
def test_a_bad_change_names_the_field(body, field):
    with pytest.raises(ValidationError) as info:
        EnvPatchBody.model_validate(body)
    assert field in {str(e["loc"][0]) for e in info.value.errors() if e["loc"]}


def test_a_change_with_nothing_in_it_is_refused_and_messages_never_hold_values():
    with pytest.raises(ValidationError):
        EnvPatchBody.model_validate({})
    with pytest.raises(ValidationError) as info:
        EnvPatchBody.model_validate({"set": {"PATH": "secret-value\x00"}})
    assert "secret-value" not in str([e["msg"] for e in info.value.errors()])


@pytest.mark.parametrize("value", [
    "", "plain", "https://api.example.com/v1?x=1", "with spaces", "a #comment-like",
    "multi\nline\r\nvalue", 'say "hi"', "it's", "back\\slash", "$HOME and ${HOME}",
    "it's \"both\"\nand more", "  padded  ",
])
def test_pulled_lines_read_back_as_the_same_values(value):
    line = dotenv_line("NAME", value)
    assert "\n" not in line
    parsed = dotenv_values(stream=io.StringIO(line + "\n"),
                           interpolate="${" not in value)  # python-dotenv expands it anywhere
    assert parsed == {"NAME": value}
