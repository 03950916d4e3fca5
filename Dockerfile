# syntax=docker/dockerfile:1
# ACIE API server image (docs/deployment.md): REST + gRPC (`acie serve`) or a job worker
# (`acie admin worker`). Two stages: the builder compiles a wheel and installs it with its
# serving extras into a virtual environment; the runtime copies only that environment.
# The shipped deep-SCM model (acie/deepscm/data/default.pt) is package data, so it is inside.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/acie
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
COPY proto ./proto
# torch from the CPU wheel index: the image carries no CUDA libraries (about 2 GB less)
RUN /opt/acie/bin/pip install --upgrade pip build \
 && /opt/acie/bin/python -m build --wheel --outdir /wheels . \
 && /opt/acie/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
      "$(ls /wheels/acie-*.whl)[serve,production,ml,otel]" \
 && /opt/acie/bin/pip uninstall -y build

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="acie" \
      org.opencontainers.image.description="ACIE API server (REST + gRPC) and job worker" \
      org.opencontainers.image.licenses="BSD-3-Clause"
RUN groupadd --system --gid 10001 acie \
 && useradd --system --uid 10001 --gid acie --home-dir /var/lib/acie --create-home acie
COPY --from=builder /opt/acie /opt/acie
ENV PATH=/opt/acie/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ACIE_DATA_DIR=/var/lib/acie \
    HOST=0.0.0.0 \
    HTTP_PORT=8000 \
    GRPC_PORT=50051
USER 10001:10001
WORKDIR /var/lib/acie
EXPOSE 8000 50051
# the standard gRPC health service (TLS and client certificate from TLS_* when set)
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-m", "acie.serve.healthcheck"]
CMD ["acie", "serve"]
