# Jol: a small image that runs `jol run`. SQLite lives on the /data volume; for several
# replicas set JOL_DATABASE_URL to PostgreSQL and JOL_WEBHOOK_URL (see README, Deployment).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
# Dependencies (and the package, for its `jol` script) into a prefix copied to the runtime stage.
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    # /app first on the path: the code runs from /app, beside migrations/ and content/.
    PYTHONPATH=/app \
    JOL_CONTENT_DIR=/app/content \
    JOL_DATABASE_URL=sqlite+aiosqlite:////data/jol.sqlite3 \
    JOL_HTTP_HOST=0.0.0.0 \
    JOL_HTTP_PORT=8080
RUN useradd --create-home --uid 10001 jol \
    && mkdir /data \
    && chown jol:jol /data
COPY --from=build /install /usr/local
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
COPY content ./content
COPY bot ./bot
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["jol"]
CMD ["run"]
