# One image for every Tansiq service; the command picks the service:
#   docker run IMAGE serve registry --host 0.0.0.0 --port 8000
#   docker run IMAGE migrate registry
# Build from the repository root: docker build -t tansiq:local .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Bytecode is compiled at install time because the runtime root filesystem is read-only.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY requirements.lock ./
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY libs/common/src libs/common/src
COPY services/registry/pyproject.toml services/registry/pyproject.toml
COPY services/registry/src services/registry/src
COPY services/agreements/pyproject.toml services/agreements/pyproject.toml
COPY services/agreements/src services/agreements/src
COPY services/engagements/pyproject.toml services/engagements/pyproject.toml
COPY services/engagements/src services/engagements/src
COPY services/reporting/pyproject.toml services/reporting/pyproject.toml
COPY services/reporting/src services/reporting/src
COPY cli/pyproject.toml cli/pyproject.toml
COPY cli/src cli/src
# The lock pins every package, development tools included, and names the workspace members as
# editable. The image installs the members as ordinary wheels and takes the rest of the lock as
# constraints: only the runtime dependencies are resolved, each at exactly its locked version.
# --no-sources: the members point at each other as uv workspace sources, which uv would install
# editable (links back into /src, gone in the final stage).
RUN grep -v '^-e ' requirements.lock > /tmp/constraints.txt \
 && uv venv /opt/tansiq \
 && uv pip install --python /opt/tansiq/bin/python --no-cache \
      --no-sources --constraint /tmp/constraints.txt \
      ./libs/common ./services/registry ./services/agreements ./services/engagements \
      ./services/reporting ./cli

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/tansiq/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TANSIQ_ENV=production
RUN groupadd --system --gid 10001 tansiq \
 && useradd --system --uid 10001 --gid tansiq --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tansiq
COPY --from=build /opt/tansiq /opt/tansiq
# Numeric user so that Kubernetes' runAsNonRoot can verify it without resolving names.
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health/live', timeout=2)"]
ENTRYPOINT ["tansiq"]
CMD ["--help"]
