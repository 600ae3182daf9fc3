# syntax=docker/dockerfile:1
# Remediator's image: a virtual environment built in one stage, copied into a slim runtime
# that runs as an unprivileged user (uid 10001, matching deploy/base/deployment.yaml) on a
# read-only root filesystem.
#   docker build -t remediator:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/remediator
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /opt/remediator/bin/pip install . \
    && /opt/remediator/bin/python -m compileall -q /opt/remediator/lib \
    && /opt/remediator/bin/remediator --version

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="remediator" \
      org.opencontainers.image.description="Kubernetes operator: alerts into safe, audited remediation" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/remediator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 remediator \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin remediator
COPY --from=builder /opt/remediator /opt/remediator
USER 10001:10001
# Kopf's health probe, the Alertmanager bridge, the admission webhooks, metrics.
EXPOSE 8080 9095 9443 9102
ENTRYPOINT ["remediator", "run"]
