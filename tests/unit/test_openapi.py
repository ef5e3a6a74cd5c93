"""The OpenAPI the API serves documents every endpoint with its text."""

from infra.compose.api import create_api

DOCUMENTED = {
    ("post", "/v1/projects"), ("get", "/v1/projects"), ("get", "/v1/projects/{project_id}"),
    ("post", "/v1/projects/{project_id}/deployments"),
    ("get", "/v1/projects/{project_id}/deployments"),
    ("get", "/v1/deployments/{deployment_id}"), ("get", "/v1/deployments/{deployment_id}/logs"),
    ("post", "/project"), ("get", "/logs/{deployment_id}"), ("get", "/healthz"),
    ("get", "/metrics"),
    ("patch", "/v1/projects/{project_id}"), ("get", "/v1/projects/{project_id}/env"),
    ("put", "/v1/projects/{project_id}/env"), ("patch", "/v1/projects/{project_id}/env"),
    ("get", "/v1/projects/{project_id}/env/values"),
    ("post", "/v1/deployments/{deployment_id}/cancel"),
    ("get", "/v1/deployments/{deployment_id}/logs/stream"),
    ("post", "/v1/builds/{deployment_id}/events"), ("post", "/v1/builds/{deployment_id}/logs"),
    ("post", "/v1/builds/{deployment_id}/blobs"), ("put", "/v1/builds/{deployment_id}/manifest"),
    ("get", "/v1/builds/{deployment_id}/spec"),
    ("post", "/v1/projects/{project_id}/domains"), ("get", "/v1/projects/{project_id}/domains"),
    ("post", "/v1/projects/{project_id}/domains/{hostname}/verify"),
    ("delete", "/v1/projects/{project_id}/domains/{hostname}"),
    ("get", "/v1/projects/{project_id}/analytics"),
    ("post", "/v1/projects/{project_id}/promote"), ("post", "/v1/projects/{project_id}/rollback"),
    ("post", "/v1/deployments/{deployment_id}/redeploy"),
}
DOCUMENTED |= {
    ("post", "/v1/webhooks/github"), ("post", "/v1/webhooks/gitlab"),
    ("post", "/v1/hooks/{token}"), ("post", "/v1/projects/{project_id}/webhook-secret"),
    ("get", "/v1/projects/{project_id}/hooks"),
    ("post", "/v1/projects/{project_id}/deploy-hooks"),
    ("delete", "/v1/projects/{project_id}/deploy-hooks/{hook_id}"),
}
DOCUMENTED |= {
    ("post", "/v1/auth/login"), ("post", "/v1/auth/logout"), ("get", "/v1/auth/me"),
    ("post", "/v1/tokens"), ("get", "/v1/tokens"), ("delete", "/v1/tokens/{token_id}"),
    ("get", "/v1/teams"), ("post", "/v1/teams"), ("post", "/v1/auth/signup"),
    ("post", "/v1/auth/password-reset"), ("post", "/v1/auth/password-reset/confirm"),
    ("post", "/v1/auth/totp"), ("post", "/v1/auth/totp/confirm"),
    ("post", "/v1/auth/totp/disable"), ("get", "/v1/auth/{provider}/login"),
    ("get", "/v1/auth/{provider}/callback"),
    ("get", "/v1/teams/{team_id}/members"), ("patch", "/v1/teams/{team_id}"),
    ("delete", "/v1/teams/{team_id}"),
    ("get", "/v1/teams/{team_id}/audit"),
    ("post", "/v1/teams/{team_id}/invitations"),
    ("patch", "/v1/teams/{team_id}/members/{user_id}"),
    ("delete", "/v1/teams/{team_id}/members/{user_id}"),
}
DOCUMENTED |= {
    ("get", "/v1/dead-letters"), ("get", "/v1/dead-letters/{letter_id}"),
    ("post", "/v1/dead-letters/{letter_id}/redrive"),
}
DOCUMENTED |= {("post", "/v1/replays")}


def test_every_endpoint_is_in_the_openapi_with_a_summary_line():
    spec = create_api(None).openapi()  # type: ignore[arg-type]
    served = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert served == DOCUMENTED
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("description"), f"{method} {path} has no docstring"


def test_create_project_documents_its_fields():
    spec = create_api(None).openapi()  # type: ignore[arg-type]
    fields = spec["components"]["schemas"]["CreateProject"]["properties"]
    assert {"name", "git_url", "branch", "root_directory", "install_command",
            "build_command", "output_directory"} <= set(fields)


def test_analytics_documents_its_answer():
    spec = create_api(None).openapi()  # type: ignore[arg-type]
    op = spec["paths"]["/v1/projects/{project_id}/analytics"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"project_id", "from", "to"}
    fields = spec["components"]["schemas"]["AnalyticsOut"]["properties"]
    assert {"project_id", "from", "to", "requests", "bytes", "status_codes",
            "top_paths", "by_host"} <= set(fields)


def test_domain_routes_document_their_answers():
    spec = create_api(None).openapi()  # type: ignore[arg-type]
    add = spec["paths"]["/v1/projects/{project_id}/domains"]["post"]
    assert "201" in add["responses"]
    verify = spec["paths"]["/v1/projects/{project_id}/domains/{hostname}/verify"]["post"]
    assert {"200", "409"} <= set(verify["responses"])
    fields = spec["components"]["schemas"]["DomainOut"]["properties"]
    assert {"hostname", "verified", "status", "verification"} <= set(fields)


def test_webhooks_document_their_answers():
    spec = create_api(None).openapi()  # type: ignore[arg-type]
    for provider in ("github", "gitlab"):
        op = spec["paths"][f"/v1/webhooks/{provider}"]["post"]
        assert {"200", "202", "400", "401", "413"} <= set(op["responses"])
    hook = spec["paths"]["/v1/hooks/{token}"]["post"]
    assert {"202", "404", "429"} <= set(hook["responses"])
DOCUMENTED |= {
    ("delete", "/v1/projects/{project_id}"),
    ("post", "/v1/projects/{project_id}/webhooks"), ("get", "/v1/projects/{project_id}/webhooks"),
    ("delete", "/v1/projects/{project_id}/webhooks/{webhook_id}"),
    ("get", "/v1/projects/{project_id}/webhooks/{webhook_id}/deliveries"),
}
DOCUMENTED |= {
    ("post", "/v1/projects/{project_id}/uploads"),
    ("post", "/v1/projects/{project_id}/uploads/{upload_id}/deploy"),
    ("get", "/v1/builds/{deployment_id}/source"),
}


def test_uploads_document_their_answers():
    spec = create_api(None).openapi()  # type: ignore[arg-type]
    create = spec["paths"]["/v1/projects/{project_id}/uploads"]["post"]
    assert {"201", "404", "422"} <= set(create["responses"])
    deploy = spec["paths"]["/v1/projects/{project_id}/uploads/{upload_id}/deploy"]["post"]
    assert {"202", "404", "409", "422"} <= set(deploy["responses"])
    fields = spec["components"]["schemas"]["UploadOut"]["properties"]
    assert {"upload_id", "missing", "present"} <= set(fields)


def test_command_routes_document_the_idempotency_key_and_queries_do_not():
    spec = create_api(None).openapi()  # type: ignore[arg-type]
    deploy = spec["paths"]["/v1/projects/{project_id}/deployments"]
    named = [p["name"] for p in deploy["post"].get("parameters", [])]
    assert named.count("Idempotency-Key") == 1
    assert "Idempotency-Key" not in [p["name"] for p in deploy["get"].get("parameters", [])]
