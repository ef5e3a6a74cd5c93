"""Every bad input is rejected by the command models, naming the field."""

import pytest
from pydantic import ValidationError

from commands.service import host_allowed
from schemas.commands import CommandMessage, CreateProject, subdomain_for

GOOD = {"name": "site", "git_url": "https://github.com/acme/site.git"}

BAD = [
    ({"git_url": "file:///etc/passwd"}, "git_url"),
    ({"git_url": "ext::sh -c touch% /tmp/pwned"}, "git_url"),
    ({"git_url": "ssh://-oProxyCommand=touch /tmp/x/repo"}, "git_url"),
    ({"git_url": "git@github.com:acme/site.git"}, "git_url"),
    ({"git_url": "/srv/repos/site.git"}, "git_url"),
    ({"git_url": "-uhttps://github.com/a/b"}, "git_url"),
    ({"git_url": "https://user:pw@github.com/a/b"}, "git_url"),
    ({"git_url": "https://github.com/"}, "git_url"),
    ({"name": "x" * 64}, "name"),
    ({"name": ""}, "name"),
    ({"name": "-leading"}, "name"),
    ({"name": "a/b"}, "name"),
    ({"name": "0123456789ab-site"}, "name"),
    ({"name": 5}, "name"),
    ({"branch": "--upload-pack=x"}, "branch"),
    ({"branch": "a..b"}, "branch"),
    ({"root_directory": "../outside"}, "root_directory"),
    ({"output_directory": "/etc"}, "output_directory"),
    ({"unknown": 1}, "unknown"),
    ({"node_version": "banana"}, "node_version"),
    ({"node_version": ">="}, "node_version"),
    ({"node_version": "lts/nope"}, "node_version"),
    ({"node_version": "1.2.3.4"}, "node_version"),
    ({"node_version": ""}, "node_version"),
    ({"node_version": "1" * 65}, "node_version"),
    ({"node_version": 22}, "node_version"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
def test_bad_input_names_the_field(change, field):
    with pytest.raises(ValidationError) as info:
        CreateProject.model_validate(GOOD | change)
    assert field in {str(e["loc"][0]) for e in info.value.errors()}


def test_good_input_is_accepted_and_normalised():
    cmd = CreateProject.model_validate(GOOD | {"root_directory": "./apps/web/"})
    assert cmd.root_directory == "apps/web"


@pytest.mark.parametrize("wanted", ["22", "20", "lts", "20.x", ">=18 <21", "^20.11",
                                    "lts/iron", "v22.1.0", " 22.x "])
def test_a_node_version_the_builder_reads_is_accepted(wanted: str):
    cmd = CreateProject.model_validate(GOOD | {"node_version": wanted})
    assert cmd.node_version == wanted.strip()
    assert cmd.build_settings().node_version == wanted.strip()


def test_subdomains_are_dns_labels():
    assert subdomain_for("My  Cool_Site.v2") == "my-cool-site-v2"
    assert len(subdomain_for("a" * 63)) == 63


def test_host_allow_list_supports_wildcards():
    assert host_allowed("github.com", ["github.com"])
    assert host_allowed("git.acme.dev", ["*.acme.dev"])
    assert not host_allowed("evil.com", ["github.com", "*.acme.dev"])


def test_command_messages_parse_either_command():
    msg = CommandMessage.model_validate(
        {"command_id": "c1", "command": {"type": "RequestDeployment", "project_id": "p"}})
    assert msg.command.type == "RequestDeployment"
    with pytest.raises(ValidationError):
        CommandMessage.model_validate({"command": {"type": "DropDatabase"}})
