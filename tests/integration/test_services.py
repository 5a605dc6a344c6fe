"""The production parts are real: PostgreSQL is the database, Redis the broker, a separate Celery worker
process runs a background export and the file it writes holds the rows.

Without CI=true these skip when the services are not configured; with CI=true they fail instead.
"""

from __future__ import annotations

import time

import pytest
from openpyxl import load_workbook

from registry.actions import export_job_create
from registry.choices import ExportJobStatus

pytestmark = pytest.mark.service


@pytest.mark.django_db
def test_default_database_is_postgresql(postgres_database):
    with postgres_database.cursor() as cursor:
        cursor.execute("SELECT current_database(), version()")
        name, version = cursor.fetchone()
    assert version.startswith("PostgreSQL")
    assert name.startswith("test_")  # pytest-django's own database, never the real one


def test_redis_answers_ping_at_the_broker_url(broker_url):
    import redis

    client = redis.Redis.from_url(broker_url, socket_timeout=3)
    try:
        assert client.ping() is True
    finally:
        client.close()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_background_export(celery_worker, make_centre, make_user):
    centre = make_centre("610100", name="西安市居民健康卡注册管理中心（集成测试）")
    province = make_centre("610000")
    user = make_user("exporter", scope="610100", roles=["系统管理员"])

    # On commit the action publishes the task to Redis; the worker process picks it up.
    job = export_job_create(
        user=user,
        source="admin:registry.registrationcentre",
        params={},
        fmt="xlsx",
        rows_total=1,
    )

    deadline = time.monotonic() + 60
    while True:
        job.refresh_from_db()
        if job.status in (ExportJobStatus.DONE, ExportJobStatus.FAILED):
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"the export job is still {job.status} after 60 s; worker log:\n{celery_worker.output()}"
            )
        if celery_worker.process.poll() is not None:
            pytest.fail(f"the worker died; its log:\n{celery_worker.output()}")
        time.sleep(0.25)

    assert job.status == ExportJobStatus.DONE, f"{job.error}\nworker log:\n{celery_worker.output()}"
    assert job.finished_at is not None
    assert "Task registry.tasks.export_job_run_task[" in celery_worker.output()

    with job.file.open("rb") as handle:
        workbook = load_workbook(handle, read_only=True)
        cells = [
            str(value) for sheet in workbook for row in sheet.iter_rows(values_only=True) for value in row
        ]
        workbook.close()
    assert centre.name in cells
    # The exporter's scope is the city: the province's centre is not in the file.
    assert province.name not in cells
