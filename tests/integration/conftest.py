"""Integration tests need real services: PostgreSQL, Redis, a Celery worker process.

In CI (CI=true) a missing service is a failure, never a skip: a green run must mean the services were
exercised. On a developer's machine without them the tests skip and say what to set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def service_missing(reason: str) -> None:
    """Fail in CI, skip elsewhere; `reason` says which service and how to provide it."""
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(f"{reason} (CI=true makes this a failure)")


def configuration_gaps(fixtures: list[str]) -> list[str]:
    """What the settings lack for these fixtures, known before any database is set up."""
    gaps = []
    # `tiers` (test_three_nodes.py) is the module-scoped network of node processes: it needs both services.
    if {"postgres_database", "celery_worker", "tiers"} & set(fixtures):
        engine = settings.DATABASES["default"]["ENGINE"]
        if not engine.endswith("postgresql"):
            gaps.append(
                f"the default database is {engine.rsplit('.', 1)[-1]}, not PostgreSQL "
                "(set DATABASE_URL=postgresql://postgres@127.0.0.1:5432/healthcard)"
            )
    if {"broker_url", "celery_worker", "tiers"} & set(fixtures) and not settings.CELERY_BROKER_URL:
        gaps.append("CELERY_BROKER_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    return gaps


def pytest_collection_modifyitems(config, items):
    """Outside CI, skip at once what the configuration cannot run: no database set-up, no table flush.

    In CI nothing is skipped here; the fixtures fail with the same reasons.
    """
    if in_ci():
        return
    here = Path(__file__).parent
    for item in items:
        if here not in Path(str(item.path)).parents:
            continue
        gaps = configuration_gaps(getattr(item, "fixturenames", []))
        if gaps:
            item.add_marker(pytest.mark.skip(reason="; ".join(gaps) + " (CI=true makes this a failure)"))


@pytest.fixture
def broker_url() -> str:
    """The Redis broker, answering PING."""
    return redis_broker_url()


def redis_broker_url() -> str:
    """CELERY_BROKER_URL when it is Redis and answers PING (for fixtures of any scope)."""
    url = settings.CELERY_BROKER_URL
    if not url:
        service_missing("CELERY_BROKER_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    if not url.startswith(("redis://", "rediss://")):
        service_missing(f"CELERY_BROKER_URL is not a Redis URL ({url.split('://')[0]}://…)")
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    problem = ""
    try:
        client.ping()
    except redis.RedisError as error:
        problem = str(error)
    finally:
        client.close()
    if problem:
        service_missing(f"Redis at CELERY_BROKER_URL does not answer PING: {problem}")
    return url


@pytest.fixture
def postgres_database():
    """The default database is PostgreSQL (in CI it must be: DATABASE_URL=postgresql://...)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        service_missing(
            f"the default database is {connection.vendor}, not PostgreSQL "
            "(set DATABASE_URL=postgresql://postgres@127.0.0.1:5432/healthcard)"
        )
    return connection


def database_url_of(connection) -> str:
    """A DATABASE_URL for another process to reach the database this test uses (pytest's test_<name>)."""
    params = connection.settings_dict
    credentials = quote(params["USER"] or "", safe="")
    if params["PASSWORD"]:
        credentials += ":" + quote(params["PASSWORD"], safe="")
    host = params["HOST"] or ""  # empty: the local socket, as for this process
    port = f":{params['PORT']}" if params["PORT"] else ""
    return (
        f"postgresql://{credentials}{'@' if credentials else ''}{host}{port}/{quote(params['NAME'], safe='')}"
    )


class Worker:
    """A real `celery worker` process on the broker, with this test's database, keys and media root."""

    def __init__(self, *, env: dict[str, str], log_path: Path):
        self.name = f"hc-test-{uuid.uuid4().hex[:8]}@%h"
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "-Q",
                "celery",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                self.name,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the Celery worker exited with {self.process.returncode}:\n{self.output()}")
            self.log.flush()
            # The whole log: a worker that starts on a busy queue logs tasks right after "ready.", which a tail
            # of the log would have already lost.
            if "ready." in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        pytest.fail(f"the Celery worker was not ready within {timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: finishes the task at hand, closes its DB connections
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()


@pytest.fixture
def celery_worker(postgres_database, broker_url, settings, tmp_path):
    """Start a worker that sees the committed rows of this (transactional) test; stop it afterwards.

    It gets everything the test process has through settings: the test database's name, the broker,
    the personal-data keys, the node key and the media root where export files land.
    """
    from config.celery import app

    env = {
        **os.environ,
        "DATABASE_URL": database_url_of(postgres_database),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND or broker_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "HC_VAR_DIR": str(settings.HC_VAR_DIR),
        "HC_TIER": settings.HC_TIER,
        "HC_REGION": settings.HC_REGION,
        "HC_DATA_KEYS": settings.HC_DATA_KEYS,
        "HC_DATA_KEY_ACTIVE": settings.HC_DATA_KEY_ACTIVE,
        "HC_NODE_KEY_FILE": str(settings.HC_NODE_KEY_FILE),
        "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    # The Celery app configured itself once from settings; make sure this process publishes to the broker.
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    # The broker is the test run's own: what earlier integration tests' nodes queued (their databases are gone)
    # must not run against this test's database.
    app.control.purge()
    worker = Worker(env=env, log_path=tmp_path / "celery-worker.log")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()
        app.conf.task_always_eager = eager
