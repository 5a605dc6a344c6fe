"""The sender's side: the checkpoint moves only after the parent's signed acknowledgement."""

from __future__ import annotations

import pytest

from exchange.choices import Direction, RunStatus
from exchange.sync.bundle import bundle_header
from exchange.sync.runner import checkpoint_of, sync_push
from registry.models import JournalEntry
from tests.exchange.sync.conftest import FakeParent, Node
from tests.integration.conftest import service_missing

pytestmark = pytest.mark.django_db


@pytest.fixture
def city(settings, tmp_path, make_centre, make_institution):
    """This node: the city 610100, with three institutions journaled, and its parent province's key."""
    settings.HC_TIER, settings.HC_REGION, settings.HC_PARENT_URL = "city", "610100", "http://province.test"
    me = Node("610100", settings.HC_NODE_KEY_FILE)
    province = Node("610000", tmp_path / "province.pem")
    make_centre("610100", public_key=me.pem)
    make_centre("610000", public_key=province.pem)
    for _ in range(3):
        make_institution("610113")
    return {"me": me, "province": province}


def test_push_sends_pages_and_moves_checkpoint_after_each_ack(city):
    parent = FakeParent(city["province"])
    run = sync_push(transport=parent, limit=2)

    assert (
        run.status == RunStatus.OK and run.bundles == 3
    )  # 2 centres... + 3 institutions = 5 rows, pages of 2
    assert run.rows == JournalEntry.objects.count() == 5 and run.bytes == sum(len(b) for b in parent.received)
    assert checkpoint_of("610000", Direction.UP).position == JournalEntry.objects.order_by("seq").last().seq
    assert sync_push(transport=parent).bundles == 0  # nothing new


def test_crash_before_the_ack_keeps_the_checkpoint_and_resends_the_same_rows(city):
    lost = FakeParent(city["province"], fail_after_receiving=True)
    run = sync_push(transport=lost)
    assert run.status == RunStatus.FAILED and "acknowledgement" in run.message and run.errors == 1
    assert checkpoint_of("610000", Direction.UP).position == 0

    parent = FakeParent(city["province"])
    assert sync_push(transport=parent).status == RunStatus.OK
    first, second = bundle_header(lost.received[0])[0], bundle_header(parent.received[0])[0]
    assert (first["first_seq"], first["last_seq"]) == (second["first_seq"], second["last_seq"])


def test_an_ack_signed_by_another_key_does_not_move_the_checkpoint(city, tmp_path):
    impostor = FakeParent(Node("610000", tmp_path / "impostor.pem"))
    run = sync_push(transport=impostor)
    assert run.status == RunStatus.FAILED and "not signed by the parent" in run.message
    assert checkpoint_of("610000", Direction.UP).position == 0


def test_a_quarantined_bundle_is_acknowledged_and_counted_as_an_error(city):
    run = sync_push(transport=FakeParent(city["province"], status="quarantined"))
    assert run.status == RunStatus.OK and run.errors == 1 and "quarantined at the parent" in run.message
    assert checkpoint_of("610000", Direction.UP).position > 0


def test_without_hc_parent_url_the_run_fails_with_a_clear_message(city, settings):
    settings.HC_PARENT_URL = ""
    run = sync_push(transport=FakeParent(city["province"]))
    assert run.status == RunStatus.FAILED and "HC_PARENT_URL" in run.message


def test_filings_never_travel_up(city):
    from django.db import transaction

    from registry.journal import journal_append

    with transaction.atomic():
        journal_append(
            kind="vendors.manufacturer", key="91110000MA0000000H", payload={"code": "91110000MA0000000H"}
        )
    parent = FakeParent(city["province"])
    run = sync_push(transport=parent)
    assert run.rows == JournalEntry.objects.exclude(kind="vendors.manufacturer").count()


@pytest.fixture
def connection():
    from django.db import connection

    if connection.vendor != "postgresql":
        service_missing("the run lock is a PostgreSQL advisory lock: set DATABASE_URL")
    return connection


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted_by_the_next(city, connection):
    from django.utils import timezone

    from exchange.models import SyncRun
    from exchange.sync.runner import INTERRUPTED

    stale = SyncRun.objects.create(direction=Direction.UP, trigger="schedule", started_at=timezone.now())
    run = sync_push(transport=FakeParent(city["province"]))

    stale.refresh_from_db()
    assert run.status == RunStatus.OK
    assert stale.status == RunStatus.FAILED and stale.finished_at is not None and stale.message == INTERRUPTED


def test_a_push_while_another_process_pushes_joins_it_and_sends_nothing(city, connection):
    import zlib

    import psycopg
    from django.utils import timezone

    from exchange.models import SyncRun

    running = SyncRun.objects.create(direction=Direction.UP, trigger="schedule", started_at=timezone.now())
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    other = psycopg.connect(**params, autocommit=True)  # the other process's session
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [zlib.crc32(f"hc-sync-{Direction.UP}".encode())])
        parent = FakeParent(city["province"])
        run = sync_push(transport=parent)
    finally:
        other.close()

    assert run.pk == running.pk and run.status == RunStatus.RUNNING
    assert parent.received == [] and checkpoint_of("610000", Direction.UP).position == 0
