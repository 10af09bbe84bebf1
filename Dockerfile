# kafka-watchdog container image.
#
#   docker build -t kafka-watchdog .
#   docker run --read-only --tmpfs /tmp -p 10308:10308 \
#     -v "$PWD/watchdog.yaml:/etc/kafka-watchdog/config.yaml:ro" kafka-watchdog
#
# Any base with Python 3.11+ on PATH as python3 (and its venv module) works: the default is the
# official slim image, and `make image` builds on a debootstrap'ed Debian bookworm with Debian's
# python3 (tools/image.sh), passed as --build-arg BASE_IMAGE=... Nothing here relies on paths
# that only one of them has. Python 3.11 because it is what Debian bookworm ships: the image
# that the tests build and run has the same Python minor version as the default one.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm

# ---- deps: a venv with the pinned dependencies (its own stage, so it can be cached alone) ---
FROM ${BASE_IMAGE} AS deps

# Behind a TLS-inspecting proxy or a private index: a CA bundle path (mounted for the build
# only, e.g. buildah bud -v /etc/ssl/certs/ca-certificates.crt:/run/build-ca.pem:ro
# --build-arg PIP_CERT=/run/build-ca.pem) and an index URL. Build arguments of this stage
# are never part of the final image. tools/image.sh passes the machine's own.
ARG PIP_CERT=""
ARG PIP_INDEX_URL=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python3 -m venv /opt/venv

# Dependencies and the build backend (setuptools) first, at the versions of
# docker/requirements.txt (tools/image.sh lock): this layer is reused as long as the pins do
# not change, whatever happens to the source, and the wheel below is built without a download.
COPY docker/requirements.txt docker/requirements.txt
RUN /opt/venv/bin/pip install --only-binary=:all: --requirement docker/requirements.txt

# ---- builder: the wheel, installed into that venv --------------------------------------------
FROM deps AS builder
COPY pyproject.toml README.md ./
COPY watchdog/ watchdog/
# The wheel, then the wheel alone into the venv: `pip check` fails the build when the pins no
# longer satisfy pyproject's ranges (re-run tools/image.sh lock). pip and setuptools leave the
# venv afterwards: nothing at run time installs anything.
RUN /opt/venv/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-deps /wheels/kafka_watchdog-*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools

# ---- final: the base interpreter plus the venv, nothing to compile with --------------------
FROM ${BASE_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="kafka-watchdog" \
      org.opencontainers.image.description="Watches Apache Kafka clusters for the failures that lose data, exports them to Prometheus and pages on-call." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed uid/gid (10308, like the port) so that Kubernetes' runAsUser/fsGroup and volume
# ownership can name it. The state dir is the only place the daemon writes besides /tmp;
# both are meant to be volumes, so the root filesystem can be read-only.
RUN groupadd --gid 10308 kafka-watchdog \
 && useradd --uid 10308 --gid 10308 --no-create-home --no-log-init \
      --home-dir /var/lib/kafka-watchdog --shell /usr/sbin/nologin kafka-watchdog \
 && mkdir -p /etc/kafka-watchdog /var/lib/kafka-watchdog \
 && chown 10308:10308 /var/lib/kafka-watchdog

COPY --from=builder /opt/venv /opt/venv

# Bytecode was compiled at build time; nothing is written next to the code at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/kafka-watchdog \
    KAFKA_WATCHDOG_HEALTHCHECK_URL=http://127.0.0.1:10308/healthz

USER 10308:10308
WORKDIR /var/lib/kafka-watchdog
EXPOSE 10308
# The daemon drains and stops on SIGTERM; the exec-form entrypoint makes it PID 1's signal.
STOPSIGNAL SIGTERM
# No curl or wget in the image: the venv's own Python asks /healthz (liveness: 200 while the
# daemon runs). Set KAFKA_WATCHDOG_HEALTHCHECK_URL when server.listen uses another port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['KAFKA_WATCHDOG_HEALTHCHECK_URL'], timeout=4)"]

ENTRYPOINT ["/opt/venv/bin/kafka-watchdog"]
CMD ["run", "--config", "/etc/kafka-watchdog/config.yaml"]
