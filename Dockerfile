# syntax=docker/dockerfile:1
# The tradesim image: the CLI, Celery workers and beat, the simulator server, and the integration suite.
#
# Stages: the builder installs tradesim with its test extra into a virtualenv; the base stage copies
# only that virtualenv, so pip, its cache, the build backend and the source tree stay out of the final image.
# The test extra is in because docker-compose.test.yml runs pytest in this same image. On x86_64 every
# dependency ships manylinux wheels for CPython 3.11 (TA-Lib included), so no compiler is installed.
#
# Built for a read-only root filesystem: the only writable place is /tmp (a tmpfs in compose). pip compiles
# the .pyc files at install time, and PYTHONDONTWRITEBYTECODE stops Python writing any more at run time.
# No secrets here: settings come from the environment when a container starts (see tradesim/config.py).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# README.md is the package's readme in pyproject.toml: the build needs it.
COPY pyproject.toml README.md ./
COPY tradesim ./tradesim
# Versions come from pyproject.toml's ranges: the project keeps no lock file to pin them to.
# hadolint ignore=DL3013
RUN pip install ".[test]"

FROM ${PYTHON_IMAGE} AS base
# A fixed uid, so volumes and orchestrators (runAsNonRoot, runAsUser) can rely on it.
RUN groupadd --system --gid 10001 tradesim \
    && useradd --system --uid 10001 --gid tradesim --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin tradesim
# HOME and MPLCONFIGDIR point into /tmp: matplotlib and other libraries write caches under them.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
COPY --from=builder /opt/venv /opt/venv
# pyproject.toml holds pytest's configuration; tests/ is the suite the compose `tests` service runs. The
# package itself is imported from the virtualenv, never from a source tree. Files stay root-owned: the
# service user can read them, not change them.
WORKDIR /app
COPY pyproject.toml ./
COPY tests ./tests
USER 10001:10001
CMD ["tradesim", "--help"]

# The integration suite's image (docker-compose.test.yml's `tests` service): the runtime plus redis-server,
# which the process-level tests start on ports of their own so they can kill and restart it.
FROM base AS test
USER root
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
USER 10001:10001

# The runtime image, and the default target: the base as it is.
FROM base AS runtime
