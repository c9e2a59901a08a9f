# Jol: a small image that runs `jol run`. SQLite lives on the /data volume, the key for the
# chat-language HMACs apart from it on /secret (see README, Deployment and Privacy); for several
# replicas set JOL_DATABASE_URL to PostgreSQL and JOL_WEBHOOK_URL.

FROM python:3.11-slim AS build
WORKDIR /src
# The exact versions from the lock file first (a layer that changes only with the lock), then
# the package itself, for its `jol` script, without letting pip resolve anything again.
COPY requirements.lock ./
RUN pip install --no-cache-dir --prefix=/install -r requirements.lock
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY migrations ./migrations
RUN pip install --no-cache-dir --prefix=/install --no-deps .

FROM python:3.11-slim
# PYTHONOPTIMIZE=2 is `python -OO`: no docstrings (nor asserts) in memory, ~7 MB less per
# process (bench/README.md, Memory); its bytecode is compiled below, once, at build time.
# DL3064 flags JOL_SECRET_FILE by its name; it is a path, the key itself is never in the image.
# hadolint ignore=DL3064
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONOPTIMIZE=2 \
    JOL_CONTENT_DIR=/app/content \
    JOL_DATABASE_URL=sqlite+aiosqlite:////data/jol.sqlite3 \
    # Never on /data: a copy of the database must not carry the key that reverses its keys.
    JOL_SECRET_FILE=/secret/jol.secret \
    JOL_HTTP_HOST=0.0.0.0 \
    JOL_HTTP_PORT=8080
RUN useradd --create-home --uid 10001 jol \
    && mkdir /data /secret \
    && chown jol:jol /data /secret \
    && chmod 700 /secret
COPY --from=build /install /usr/local
RUN python -OO -m compileall -q -j 0 -x '/(test|tests|idle_test)/' /usr/local/lib/python3.11
WORKDIR /app
# The package (migrations included, see setup.py) is installed; only the content is data.
COPY content ./content
USER 10001:10001
VOLUME ["/data", "/secret"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["jol"]
CMD ["run"]
