# ddtflow runtime image: the API (`ddtflow serve`) and the turn worker (`ddtflow worker`).
# Build: docker build -t ddtflow .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY compiler compiler
COPY ddt_engine ddt_engine
COPY runtime runtime
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /app ddtflow
COPY --from=build /install /usr/local
WORKDIR /app
COPY examples examples
USER ddtflow
ENV PYTHONUNBUFFERED=1 \
    DDTFLOW_DATA_DIR=/app/data \
    WORKERS=1
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# One worker per container by default: scale with more containers (see docs/api.md).
CMD ["sh", "-c", "exec ddtflow serve --host 0.0.0.0 --port 8000 --workers ${WORKERS}"]
