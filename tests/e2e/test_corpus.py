"""The fixture corpus, deployed as a user would: each app (made by its framework's own
scaffolder, with its real lockfile) is pushed to the git server, deployed through the
API, built in the sandbox with the package manager and Node.js it asks for, and then
served by the edge: its pages, every asset their HTML loads, and, for a single-page
app, a deep link.

The apps in ``CI_APPS`` run every time; the others (Next.js, Nuxt, Gatsby, Docusaurus,
Angular, … with their large installs) run with ``pytest -m corpus``, as the corpus
benchmark does.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_deploy import deploy, host
from tests.support.corpus import CI_APPS, App, apps, linked_assets
from tests.support.platform import Platform


def params() -> list[object]:
    return [pytest.param(app, id=app.name,
                         marks=() if app.name in CI_APPS else (pytest.mark.corpus,))
            for app in apps()]


def create(platform: Platform, app: App, url: str) -> dict:
    with platform.client() as c:
        body = {"name": f"corpus {app.name}", "git_url": url, **app.settings()}
        r = c.post("/v1/projects", json=body)
        assert r.status_code == 201, r.text
        return r.json()


def check_served(platform: Platform, site: str, app: App) -> None:
    index_html = ""
    for path, text in app.pages.items():
        page = platform.wait_site(site, path)
        assert page.status_code == 200 and text in page.text, (path, page.text[:500])
        assert page.headers["content-type"].startswith("text/html")
        index_html = index_html or page.text
        for asset in sorted(linked_assets(f"http://{site}{path}", page.text)):
            loaded = platform.get_site(site, asset)
            assert loaded.status_code == 200, (path, asset, loaded.status_code)
    if app.deep_link:
        deep = platform.get_site(site, app.deep_link)
        assert deep.status_code == 200, (app.deep_link, deep.status_code)
        if app.spa:
            assert deep.text == platform.get_site(site, "/").text


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("app", params())
def test_a_corpus_app_builds_and_is_served(platform: Platform, git_server, app: App):
    url = git_server.make_repo(f"corpus-{app.name}", app.files())
    project = create(platform, app, url)
    accepted = deploy(platform, project["id"])
    done = platform.wait_status(accepted["id"], {"READY", "FAILED"}, timeout=900)
    assert done["status"] == "READY", done["failure_reason"]
    build = done["build"]
    assert build["framework"] == app.framework, build
    if app.package_manager:
        assert build["package_manager"].split("@")[0] == app.package_manager, build
        assert build["node_version"]
    else:
        assert build["package_manager"] is None
    check_served(platform, host(project["url"]), app)
