"""``GET /v1/projects/{id}/analytics`` on the running platform: its range defaults, the
series' buckets, validation and 404, and requests through the edge counted there: the
edge processes publish them on ``buildspace.requests``, the worker projects them into
ClickHouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.test_deploy import create
from tests.support.kafka import find_event
from tests.support.platform import Platform
from tests.support.waiting import eventually


def test_analytics_of_a_project_without_traffic_covers_the_last_day(platform: Platform,
                                                                    git_server):
    project = create(platform, "Quiet Site", git_server.make_repo("quiet", {"a.txt": "a"}))
    with platform.client() as c:
        r = c.get(f"/v1/projects/{project['id']}/analytics")
        assert r.status_code == 200, r.text
        body = r.json()
        start = datetime.fromisoformat(body["from"])
        end = datetime.fromisoformat(body["to"])
        assert end - start == timedelta(hours=24)
        assert abs(datetime.now(UTC) - end) < timedelta(minutes=1)
        series = body.pop("series")
        assert body | {"from": None, "to": None} == {
            "project_id": project["id"], "from": None, "to": None, "requests": 0, "bytes": 0,
            "status_codes": {}, "top_paths": [], "by_host": [], "bucket_seconds": 1800}
        assert len(series) in (48, 49) and {b["requests"] for b in series} == {0}
        starts = [datetime.fromisoformat(b["start"]) for b in series]  # half-hours
        assert starts[0] <= start < starts[0] + timedelta(minutes=30)
        assert {(s.minute, s.second) for s in starts} <= {(0, 0), (30, 0)}
        assert all(b - a == timedelta(minutes=30) for a, b in zip(starts, starts[1:],
                                                                  strict=False))

        week = {"from": "2025-01-01T00:00:00Z", "to": "2025-01-08T00:00:00+00:00"}
        body = c.get(f"/v1/projects/{project['id']}/analytics", params=week).json()
        assert datetime.fromisoformat(body["from"]) == datetime(2025, 1, 1, tzinfo=UTC)
        assert datetime.fromisoformat(body["to"]) == datetime(2025, 1, 8, tzinfo=UTC)
        assert body["bucket_seconds"] == 3 * 3600 and len(body["series"]) == 56
        assert body["series"][0]["start"] == "2025-01-01T00:00:00Z"
        hour = {"from": "2025-01-01T00:00:00Z", "to": "2025-01-01T01:00:00Z"}
        body = c.get(f"/v1/projects/{project['id']}/analytics", params=hour).json()
        assert body["bucket_seconds"] == 60 and len(body["series"]) == 60


def test_analytics_rejects_bad_ranges_and_unknown_projects(platform: Platform, git_server):
    project = create(platform, "Ranged Site", git_server.make_repo("ranged", {"a.txt": "a"}))
    url = f"/v1/projects/{project['id']}/analytics"
    with platform.client() as c:
        for params, field in (({"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"},
                               "from"),
                              ({"from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"},
                               "from"),
                              ({"from": "yesterday"}, "from"), ({"to": "soon"}, "to")):
            r = c.get(url, params=params)
            assert r.status_code == 422, (params, r.text)
            assert [f["field"] for f in r.json()["error"]["fields"]] == [field]
        r = c.get("/v1/projects/no-such-project/analytics")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_requests_through_the_edge_show_up_in_analytics(platform: Platform, git_server):
    url = git_server.make_repo("counted", {"index.html": "<p>counted</p>", "a.txt": "aaaa"})
    project = create(platform, "Counted Site", url)
    with platform.client() as c:
        accepted = c.post(f"/v1/projects/{project['id']}/deployments").json()
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    host = project["url"].split("://", 1)[1].split(":", 1)[0]
    platform.wait_site(host)
    for path in ("/", "/", "/a.txt", "/missing"):
        platform.get_site(host, path)
    published = find_event(platform.kafka, "buildspace.requests",
                           lambda e: e["project_id"] == project["id"])
    assert published["type"] == "EdgeRequestsServed" and published["stream_id"] == project["id"]

    def counted() -> dict:
        """The analytics once they count every path (each edge process publishes about
        every second, the worker stores soon after)."""
        body = _analytics(platform, project["id"])
        paths = {p["path"]: p for p in body["top_paths"]}
        done = {"/", "/a.txt", "/missing"} <= set(paths) and paths["/"]["requests"] >= 2
        return body if done else {}
    body = eventually(counted, 30, what="every path counted in the analytics", interval=0.2)
    paths = {p["path"]: p for p in body["top_paths"]}
    # wait_site's own requests to / are counted too
    assert body["requests"] >= 4 and body["status_codes"]["404"] == 1, body
    assert (paths["/a.txt"]["requests"], paths["/a.txt"]["bytes"]) == (1, 4)
    assert paths["/missing"]["requests"] == 1 and paths["/"]["requests"] >= 2
    assert [h["host"] for h in body["by_host"]] == [host]
    busy = [b for b in body["series"] if b["requests"]]
    assert sum(b["requests"] for b in busy) == body["requests"], body["series"]
    assert all(abs(datetime.fromisoformat(b["start"]) - datetime.now(UTC)) < timedelta(hours=1)
               for b in busy)


def _analytics(platform: Platform, project_id: str) -> dict:
    with platform.client() as c:
        r = c.get(f"/v1/projects/{project_id}/analytics")
        assert r.status_code == 200, r.text
        return r.json()
