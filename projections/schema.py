"""PostgreSQL read models. Every table here can be dropped and rebuilt from Kafka."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS projection_positions (
    projection text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    PRIMARY KEY (projection, topic, partition)
);
CREATE TABLE IF NOT EXISTS projected_events (
    projection text NOT NULL,
    event_id text NOT NULL,
    PRIMARY KEY (projection, event_id)
);
CREATE TABLE IF NOT EXISTS projects (
    project_id text PRIMARY KEY,
    name text NOT NULL,
    subdomain text NOT NULL,
    git_url text NOT NULL,
    branch text NOT NULL,
    settings jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
ALTER TABLE projects ADD COLUMN IF NOT EXISTS env_names text[] NOT NULL DEFAULT '{}';
ALTER TABLE projects ADD COLUMN IF NOT EXISTS team_id text;
CREATE INDEX IF NOT EXISTS projects_created ON projects (created_at DESC, project_id);
CREATE TABLE IF NOT EXISTS deployments (
    deployment_id text PRIMARY KEY,
    project_id text NOT NULL,
    number integer NOT NULL,
    ref text NOT NULL,
    status text NOT NULL,
    commit_sha text,
    failure_reason text,
    runner text,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    file_count integer,
    total_bytes bigint,
    uploaded_blobs integer,
    install_ms integer,
    build_ms integer,
    log_lines bigint
);
ALTER TABLE deployments ADD COLUMN IF NOT EXISTS log_lines bigint;
ALTER TABLE deployments ADD COLUMN IF NOT EXISTS build_plan jsonb;
ALTER TABLE deployments ADD COLUMN IF NOT EXISTS failure_step text;
ALTER TABLE deployments ADD COLUMN IF NOT EXISTS requested_by_user_id text;
CREATE INDEX IF NOT EXISTS deployments_project ON deployments (project_id, number DESC);
CREATE TABLE IF NOT EXISTS route_projects (
    project_id text PRIMARY KEY,
    subdomain text NOT NULL
);
CREATE TABLE IF NOT EXISTS route_deployments (
    deployment_id text PRIMARY KEY,
    project_id text NOT NULL,
    number integer NOT NULL
);
ALTER TABLE route_deployments ADD COLUMN IF NOT EXISTS final boolean NOT NULL DEFAULT false;
ALTER TABLE route_deployments ADD COLUMN IF NOT EXISTS ready boolean NOT NULL DEFAULT false;
ALTER TABLE route_deployments ADD COLUMN IF NOT EXISTS branch text;
ALTER TABLE route_deployments ADD COLUMN IF NOT EXISTS target text NOT NULL
    DEFAULT 'production';
ALTER TABLE route_projects ADD COLUMN IF NOT EXISTS auto_promote boolean NOT NULL
    DEFAULT true;
CREATE TABLE IF NOT EXISTS route_production_history (
    project_id text NOT NULL,
    position integer NOT NULL,
    deployment_id text NOT NULL,
    PRIMARY KEY (project_id, position)
);
ALTER TABLE deployments ADD COLUMN IF NOT EXISTS branch text;
ALTER TABLE deployments ADD COLUMN IF NOT EXISTS target text NOT NULL DEFAULT 'production';
CREATE TABLE IF NOT EXISTS routes (
    hostname text PRIMARY KEY,
    project_id text NOT NULL,
    deployment_id text NOT NULL,
    number integer NOT NULL,
    production boolean NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS routes_project ON routes (project_id);
CREATE TABLE IF NOT EXISTS domains (
    domain_id text PRIMARY KEY,
    project_id text NOT NULL,
    hostname text NOT NULL,
    token text NOT NULL,
    verified boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    verified_at timestamptz,
    removed_at timestamptz
);
CREATE INDEX IF NOT EXISTS domains_project ON domains (project_id, hostname);
CREATE TABLE IF NOT EXISTS route_domains (
    domain_id text PRIMARY KEY,
    project_id text NOT NULL,
    hostname text NOT NULL,
    verified boolean NOT NULL DEFAULT false,
    removed boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS route_domains_project ON route_domains (project_id);
CREATE INDEX IF NOT EXISTS route_domains_hostname ON route_domains (hostname);
CREATE TABLE IF NOT EXISTS build_queue (
    deployment_id text PRIMARY KEY,
    project_id text NOT NULL,
    ref text NOT NULL,
    spec jsonb NOT NULL,
    requested_at timestamptz NOT NULL,
    state text NOT NULL,
    launched_at timestamptz,
    last_seen timestamptz
);
CREATE INDEX IF NOT EXISTS build_queue_waiting ON build_queue (state, requested_at);
ALTER TABLE projects ADD COLUMN IF NOT EXISTS deleted_at timestamptz;
CREATE TABLE IF NOT EXISTS build_env (
    project_id text PRIMARY KEY,
    ciphertext text NOT NULL
);
"""
