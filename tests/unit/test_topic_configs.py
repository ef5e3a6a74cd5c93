"""Only the events, the source of truth, are kept for ever: every other topic is
compacted (the routes) or deletes what is older than its setting, a new topic too."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.kafka import topic_configs
from infra.settings import Settings


def test_every_topic_but_the_events_is_bounded():
    s = Settings()
    for name, config in topic_configs(s).items():
        if name == s.topic_events:
            assert config == {"cleanup.policy": "delete", "retention.ms": "-1"}
        elif name == s.topic_routes:
            assert config["cleanup.policy"] == "compact"
        else:
            assert config["cleanup.policy"] == "delete", name
            assert int(config["retention.ms"]) >= 86_400_000, name


def test_a_retention_of_no_days_is_refused():
    with pytest.raises(ValidationError):
        Settings(log_retention_days=0)
