# syntax=docker/dockerfile:1
# The builder image: runs one build (clone, install, build, publish) and exits.
# ECS starts it per deployment (infra/ecs-task-definition.json, builder/ecs_runner.py)
# with only the deployment id, a short-lived grant, the API URL and the build limits in
# its environment; it fetches its spec from the API with the grant (builder/run.py).
#
#   docker build -f infra/Dockerfile.builder -t buildspace-builder .
#
# It runs as root on purpose: builder.run drops to the unprivileged sandbox uid
# (setpriv) and confines install/build scripts with bubblewrap before running them.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# Node from the official image: Debian's nodejs is too old for current frameworks.
FROM ${NODE_IMAGE} AS node

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    BUILDSPACE_DATA_DIR=/var/lib/buildspace
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        git ca-certificates bubblewrap slirp4netns util-linux hugo python3-venv; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/buildspace
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN set -eux; \
    ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm; \
    ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \
    ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack; \
    node --version; npm --version; git --version; bwrap --version

WORKDIR /app
COPY pyproject.toml ./
RUN set -eux; \
    for pkg in schemas commands streams projections builder edge infra; do \
        mkdir -p "$pkg" && touch "$pkg/__init__.py"; \
    done; \
    pip install .; \
    pip uninstall -y buildspace; \
    rm -rf schemas commands streams projections builder edge infra build ./*.egg-info
COPY schemas ./schemas
COPY commands ./commands
COPY streams ./streams
COPY projections ./projections
COPY builder ./builder
COPY edge ./edge
COPY infra ./infra
RUN pip install --no-deps . && rm -rf build ./*.egg-info
# Node.js and the package managers' default versions, in the tool cache builds mount
# read-only (/var/cache/buildspace/tools); other versions are fetched when a build asks.
RUN python -m builder.provision

CMD ["python", "-m", "builder.run"]
