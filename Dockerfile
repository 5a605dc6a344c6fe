# One image for every tier and role (web, worker, beat): the node's place is configuration, not code.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HC_VAR_DIR=/var/lib/healthcard \
    DJANGO_STATIC_ROOT=/app/var/static

# The CJK font printed PDFs embed; gettext to compile the Chinese catalog.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei gettext \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin healthcard

WORKDIR /app

# Dependencies first (cached while only the code changes), exactly as locked, without the dev group.
COPY pyproject.toml uv.lock .python-version ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# Build-time only: a development configuration with a throwaway var dir, so no secret is baked in.
RUN HC_VAR_DIR=/tmp/build python manage.py compilemessages --ignore=.venv \
    && HC_VAR_DIR=/tmp/build python manage.py collectstatic --noinput \
    && rm -rf /tmp/build \
    && mkdir -p /var/lib/healthcard \
    && chown healthcard /var/lib/healthcard \
    && chmod 0755 deploy/entrypoint.sh

USER healthcard
VOLUME /var/lib/healthcard
EXPOSE 8000
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--no-control-socket"]
