# Komorebi: one image for every mode (long polling, webhook, migrate).
#   docker build -t komorebi .
#   docker run --rm -e TELEGRAM_BOT_TOKEN=... -v komorebi-data:/app/data komorebi            (polling, SQLite)
#   docker run --rm -e DATABASE_URL=postgresql+asyncpg://... komorebi migrate                 (migrations only)
# See deploy/README.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (pinned in pyproject.toml), so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The code and what an organisation edits (texts, tasks, crisis words, help lines). The bot runs from
# /app (python -m bot), which finds locales/ and content/ next to its packages.
COPY alembic.ini ./
COPY bot ./bot
COPY core ./core
COPY handlers ./handlers
COPY schedules ./schedules
COPY storage ./storage
COPY locales ./locales
COPY content ./content

# Never root. data/ holds the SQLite file when DATABASE_URL is left at its default.
RUN useradd --system --uid 10001 --home-dir /app --no-create-home komorebi \
    && mkdir -p /app/data && chown komorebi:komorebi /app/data
USER komorebi
VOLUME ["/app/data"]

# Webhook mode listens here (KOMOREBI_WEBHOOK_PORT); long polling needs no port.
EXPOSE 8080

# The bot migrates the database at every start (serialised by an advisory lock on PostgreSQL) and
# stops cleanly on SIGTERM.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
