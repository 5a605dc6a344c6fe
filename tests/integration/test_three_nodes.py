"""The tiers syncing over HTTP as real processes: ministry 100000, province 610000 and two cities (西安 610100,
铜川 610200), each a gunicorn process with its own PostgreSQL database, data keys and node key; one push runs in
a real Celery worker on Redis.

The nodes start once for this module (`tiers`) and the tests run in file order on them, each leaving every node
running and in step with its parent: the parent down for a whole run then caught up; a card issued and lost at
the city reaching the province and the ministry with its history, a ministry filing reaching the city read-only,
the lost card in the blacklist the other city pulls down; the parent SIGKILLed in the middle of applying a
bundle; the child SIGKILLed after sending, before the acknowledgement; a row deleted behind reconciliation's back.
After each fault: nothing lost, nothing doubled (journal rows per kind and copy-table rows equal at both ends,
reconciliation with zero drift).

The kills are deterministic without a test hook in the code: the test holds a table lock in the province's
database (three_nodes.TableLock), the apply transaction blocks on its first event row with the institutions,
holders and cards of the bundle already written, and the test kills a process exactly then.

Without CI=true this skips when PostgreSQL or Redis is missing; with it, it fails.
"""

from __future__ import annotations

import time
import uuid

import pytest
from django.conf import settings

from exchange.sync.nodes import subtree_prefix
from tests.cards.conftest import make_id_number
from tests.integration.conftest import Worker, redis_broker_url, service_missing
from tests.integration.three_nodes import (
    Network,
    TableLock,
    backend_gone,
    in_parallel,
    kill_group,
    last_json,
)

# django_db: pytest-django sets up its test database only for marked tests, and it is each node's template.
pytestmark = [pytest.mark.service, pytest.mark.django_db]

CITY_ISSUES_AND_LOSES = """
import json
from cards import actions
from cards.choices import ApplicationChannel
from institutions.actions import organisation_register
from institutions.models import MedicalInstitution
from registry.actors import Actor
from registry.choices import Channel
from registry.lists import card_subject, subject_to_hex
from registry.models import Region
actor = Actor.system(channel=Channel.COMMAND, label="integration")
hospital = organisation_register(actor=actor, model=MedicalInstitution, code={code!r}, name={hospital!r},
    region=Region.objects.get(code="610113"), nature="public", category="general_hospital", grade="3a")
holder = actions.holder_register(actor=actor, document_number={document!r}, name="王小明")
application = actions.application_submit(actor=actor, resident=holder, channel=ApplicationChannel.COUNTER)
card = actions.card_issue_onsite_allocate(actor=actor, application=application, institution=hospital)
card = actions.card_issue_onsite_complete(actor=actor, card=card, chip_serial={chip!r})
card = actions.card_report_loss(actor=actor, card=card, document_type="01", document_number={document!r},
    note="丢失")
print(json.dumps({{"status": card.status, "subject": subject_to_hex(card_subject(card.card_no, card.chip_serial))}}))
"""

WHAT_IS_HERE = """
import json
from cards.models import Card, CardEvent, Resident
from registry.errors import DomainError
from registry.protection import blind_index
from vendors.models import Manufacturer
from exchange.models import InboundBundle
index = blind_index({document!r}, family="id_number")
card = Card.objects.filter(card_index=index).first()
manufacturers = list(Manufacturer.objects.order_by("name"))
refusal = ""
if manufacturers and {try_edit!r}:
    from registry.actors import Actor
    from registry.choices import Channel
    from vendors.actions import manufacturer_update
    try:
        manufacturer_update(actor=Actor.system(channel=Channel.COMMAND, label="integration"),
            manufacturer=manufacturers[0], name="改名", reason="test")
    except DomainError as error:
        refusal = error.code
print(json.dumps({{
    "holder": Resident.objects.filter(document_index=index).values_list("name", flat=True).first(),
    "card": [card.status, card.chip_serial, card.region_id, getattr(card.issuing_point, "name", "")] if card else None,
    "events": list(CardEvent.objects.filter(card=card).order_by("at", "id").values_list("kind", flat=True)) if card else [],
    "manufacturers": [m.name for m in manufacturers],
    "refusal": refusal,
    "quarantined": InboundBundle.objects.filter(status="quarantined").count(),
}}, ensure_ascii=False))
"""

MINISTRY_FILES = """
from registry.actors import Actor
from registry.choices import Channel
from registry.models import Region
from vendors.actions import manufacturer_register
manufacturer_register(actor=Actor.system(channel=Channel.COMMAND, label="integration"),
    code="91110000MA0000000H", name="某某智能卡有限公司", region=Region.objects.get(code="110000"))
"""

BLACKLIST_HERE = """
import json
from registry.choices import ListName
from registry.lists import list_delta, list_entry_current, list_snapshot, subject_from_hex
subject = subject_from_hex({subject!r})
entry = list_entry_current(list_name=ListName.BLACKLIST, subject=subject)
snapshot = list_snapshot(list_name=ListName.BLACKLIST)
delta = list_delta(list_name=ListName.BLACKLIST, since=0)
print(json.dumps({{
    "entry": [entry.entry_type, entry.reason, entry.region_id, entry.origin_node] if entry else None,
    "snapshot": [[t, r] for t, r, s in snapshot.adds if s == subject],
    "delta": [[t, r] for t, r, s in delta.adds if s == subject],
    "whitelisted": list_entry_current(list_name=ListName.WHITELIST, subject=subject) is not None,
}}))
"""

# What the module's tests hand on to the next (they run in file order on one network).
story: dict[str, str] = {}


@pytest.fixture(scope="module")
def tiers(django_db_setup, django_db_blocker, tmp_path_factory):
    """Four nodes started once for the module; stopped and their databases dropped at the end.

    Each node's database is a copy of pytest-django's migrated test database (its regions loaded by the data
    migration: pytest-django runs these tests before any transactional test flushes tables).
    """
    from django.db import connections

    broker = redis_broker_url()
    with django_db_blocker.unblock():
        connection = connections["default"]
        if connection.vendor != "postgresql":
            service_missing(
                f"the default database is {connection.vendor}, not PostgreSQL "
                "(set DATABASE_URL=postgresql://postgres@127.0.0.1:5432/healthcard)"
            )
        template = dict(connection.settings_dict)
        connections.close_all()  # a template database must have no other session
    network = Network(template=template, broker_url=broker, var_dir=tmp_path_factory.mktemp("tiers"))
    try:
        network.setup()
        network.start()
        yield network
    finally:
        network.close()


@pytest.fixture(autouse=True)
def every_node_running(tiers):
    """Each test starts with the four servers up (a failed test may have left one down)."""
    tiers.start()


def new_hospital_code() -> str:
    from stdnum.cn import uscc

    body = "91610113" + uuid.uuid4().hex[:9].upper().replace("I", "X").replace("O", "X")
    return body[:17] + uscc.calc_check_digit(body[:17])


def issue_and_lose(city, *, chip: str) -> dict:
    """A hospital registered, a holder, a card issued on site and reported lost at the city: every kind of row
    a city journals for a card (institution, holder, application, card, events, list entries)."""
    document = make_id_number("610113")
    result = last_json(
        city.shell(
            CITY_ISSUES_AND_LOSES.format(
                code=new_hospital_code(), hospital="雁塔区人民医院", document=document, chip=chip
            )
        )
    )
    assert result["status"] == "lost", result
    return {"document": document, "subject": result["subject"]}


def rows_to_send(city) -> int:
    """The city's journal rows its parent has not acknowledged (what up_page would send)."""
    return city.sql(
        "SELECT count(*) FROM registry_journalentry WHERE seq > %s AND origin_node LIKE %s "
        "AND kind NOT IN ('vendors.manufacturer', 'vendors.product')",
        [city.up_checkpoint(), subtree_prefix(city.region) + "%"],
    )[0][0]


def assert_in_step(child, parent, *, push: bool = False) -> None:
    """Nothing lost, nothing doubled: reconciliation reports zero drift (after a push, with `push`), the child's
    journal rows per kind and its copy-table rows are at the parent exactly once, nothing is quarantined."""
    results, _ = child.commands(*([("sync", "push")] if push else []), ("sync", "reconcile"))
    for succeeded, output in results:
        assert succeeded, output
    assert "no drift" in results[-1][1], results[-1][1]
    prefix = subtree_prefix(child.region)
    here, there = child.journal_counts(prefix), parent.journal_counts(prefix)
    assert here == there, {"child": here, "parent": there}
    assert child.table_counts(prefix) == parent.table_counts(prefix)
    assert parent.sql("SELECT count(*) FROM exchange_inboundbundle WHERE status <> 'applied'") == [(0,)]
    assert rows_to_send(child) == 0


def push_through_a_celery_worker(node, log_path) -> int:
    """The node's push as a task in a real Celery worker process on Redis; returns the SyncRun's pk."""
    from config.celery import app

    worker = Worker(env={**node.env, "PYTHONPATH": str(settings.BASE_DIR)}, log_path=log_path)
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        worker.wait_ready()
        result = app.send_task("exchange.tasks.sync_push_task", kwargs={"trigger": "manual"}, queue="celery")
        return result.get(timeout=180)
    finally:
        app.conf.task_always_eager = eager
        worker.stop()


def test_the_parent_down_for_a_whole_run_loses_nothing_and_a_celery_worker_catches_up(tiers, tmp_path):
    city, province, ministry = tiers.city, tiers.province, tiers.ministry
    province.stop()
    try:
        lost, _ = in_parallel(
            lambda: issue_and_lose(city, chip="04A1B2C3D4"), lambda: ministry.shell(MINISTRY_FILES)
        )
        story.update(lost)
        waiting = rows_to_send(city)
        assert waiting > 0

        down = city.manage("sync", "push", check=False)
        assert down.returncode != 0 and "failed" in (down.stdout + down.stderr)
        run = city.last_run()
        assert run["status"] == "failed" and run["errors"] == 1 and run["bundles"] == 0, run
        assert province.url.split("//")[1] in run["message"], (
            run
        )  # the error says which parent did not answer
        assert city.up_checkpoint() == 0 and rows_to_send(city) == waiting  # nothing lost, nothing skipped
    finally:
        province.start()
        province.wait_ready()

    # Catch-up after the parent came back, in a real Celery worker on Redis.
    run_pk = push_through_a_celery_worker(city, tmp_path / "worker.log")
    status, bundles, rows, errors = city.sql(
        "SELECT status, bundles, rows, errors FROM exchange_syncrun WHERE id = %s", [run_pk]
    )[0]
    assert status == "ok" and bundles >= 1 and rows == waiting and errors == 0
    assert_in_step(city, province)


def test_a_lost_card_reaches_province_and_ministry_with_its_history_and_a_filing_comes_down_read_only(tiers):
    city, province, ministry = tiers.city, tiers.province, tiers.ministry
    assert story.get("document"), "the first test issues the card"
    for succeeded, output in province.commands(("sync", "push"), ("sync", "pull"))[0]:
        assert succeeded, output

    def city_pulls_pushes_and_looks():
        # The pulled filing is no reason to push: nothing comes back up (0 bundles).
        results, output = city.commands(
            ("sync", "pull"),
            ("sync", "push"),
            then=WHAT_IS_HERE.format(document=story["document"], try_edit=True),
        )
        assert all(succeeded for succeeded, _ in results) and "0 bundles" in results[1][1], results
        return last_json(output)

    at_city, at_province, at_ministry = in_parallel(
        city_pulls_pushes_and_looks,
        *(
            lambda node=node: last_json(
                node.shell(WHAT_IS_HERE.format(document=story["document"], try_edit=False))
            )
            for node in (province, ministry)
        ),
    )
    for node, here in ((province, at_province), (ministry, at_ministry)):
        assert here["holder"] == "王小明", (node.tier, here)
        assert here["card"] == ["lost", "04A1B2C3D4", "610113", "雁塔区人民医院"], (node.tier, here)
        assert here["events"] == at_city["events"], (node.tier, here, at_city)
        assert here["events"][:3] == ["allocated", "activated", "collected"], (node.tier, here)
        assert here["events"][-1] == "loss_reported", (node.tier, here)
        assert here["quarantined"] == 0
    assert at_city["manufacturers"] == ["某某智能卡有限公司"]
    assert at_city["refusal"] == "filing_read_only"  # the city's copy of a ministry filing is read-only

    assert_in_step(province, ministry)


def test_the_card_lost_in_one_city_is_in_the_blacklist_the_other_city_pulls_down(tiers):
    other = tiers.city2
    assert story.get("subject"), "the first test loses the card"
    results, output = other.commands(("sync", "pull"), then=BLACKLIST_HERE.format(subject=story["subject"]))
    assert results[0][0], results
    here = last_json(output)
    assert here["entry"] == ["card", "lost", "610113", "610100"], here
    assert here["snapshot"] == [["card", "lost"]] and here["delta"] == [["card", "lost"]], here
    assert (
        here["whitelisted"] is False
    )  # on the whitelist when issued, off it when lost: both changes came down


def test_the_parent_killed_while_applying_a_bundle_then_restarted_loses_and_doubles_nothing(tiers):
    city, province = tiers.city, tiers.province
    issue_and_lose(city, chip="04A1B2C3E5")
    waiting, checkpoint = rows_to_send(city), city.up_checkpoint()
    journal_before = province.journal_counts("6101")
    bundles_before = province.sql("SELECT count(*) FROM exchange_inboundbundle")

    with TableLock(province, "cards_cardevent") as lock:
        push = city.manage_background("sync", "push")
        try:
            pid = lock.wait_for_writer(alive=push)
            # In the middle of the apply: the bundle's holder and card are written (not committed), its events
            # not yet.
            assert {"cards_resident", "cards_card"} <= lock.locks_held_by(pid)
            province.kill()
            output, _ = push.communicate(timeout=120)
            assert push.returncode != 0, output
        finally:
            kill_group(push)
    backend_gone(province, pid)  # the province's backend lost its client: its transaction rolled back

    assert province.journal_counts("6101") == journal_before  # nothing of the bundle is at the province
    assert province.sql("SELECT count(*) FROM exchange_inboundbundle") == bundles_before
    run = city.last_run()
    assert run["status"] == "failed" and run["errors"] == 1 and run["bundles"] == 0, run
    assert province.url.split("//")[1] in run["message"], run  # the line to the parent broke
    assert city.up_checkpoint() == checkpoint and rows_to_send(city) == waiting

    province.start()
    province.wait_ready()
    assert_in_step(city, province, push=True)
    assert city.last_run()["rows"] == waiting


def test_the_child_killed_after_sending_before_the_acknowledgement_resends_and_nothing_doubles(tiers):
    city, province = tiers.city, tiers.province
    issue_and_lose(city, chip="04A1B2C3F6")
    waiting, checkpoint = rows_to_send(city), city.up_checkpoint()
    applied_before = province.sql("SELECT max(id) FROM exchange_inboundbundle")[0][0] or 0

    with TableLock(province, "cards_cardevent") as lock:
        push = city.manage_background("sync", "push")
        try:
            lock.wait_for_writer(alive=push)  # the province holds the whole bundle and is applying it
        finally:
            kill_group(push)  # the child dies: it never reads the acknowledgement
    # Released: the province's apply goes on and commits; its answer finds no one.
    deadline = time.monotonic() + 60
    while not (
        sent := province.sql(
            "SELECT applied_rows, duplicate_rows FROM exchange_inboundbundle WHERE id > %s AND status = 'applied'",
            [applied_before],
        )
    ):
        assert time.monotonic() < deadline, "the province did not commit the bundle"
        time.sleep(0.2)
    assert sent == [(waiting, 0)]
    assert city.up_checkpoint() == checkpoint  # no acknowledgement, no move
    assert rows_to_send(city) == waiting

    assert_in_step(city, province, push=True)
    run = city.last_run()
    assert run["status"] == "ok" and run["bundles"] == 1 and run["rows"] == waiting, run
    # The same rows again, recognised as applied: nothing applied twice; the checkpoint moved.
    assert province.sql(
        "SELECT applied_rows, duplicate_rows FROM exchange_inboundbundle WHERE id > %s ORDER BY id",
        [applied_before],
    ) == [(waiting, 0), (0, waiting)]
    assert city.up_checkpoint() > checkpoint


def test_reconcile_reports_a_row_deleted_behind_its_back_at_the_parent(tiers):
    city, province = tiers.city, tiers.province
    with province.databases.connect(province.database) as conn:
        conn.execute(
            "CREATE TEMP TABLE kept AS SELECT * FROM cards_cardevent WHERE region_id LIKE %s "
            "ORDER BY id DESC LIMIT 1",
            ["6101%"],
        )
        conn.execute("DELETE FROM cards_cardevent WHERE id IN (SELECT id FROM kept)")
        events = city.table_counts("6101")["cards_cardevent"]
        drift = city.manage("sync", "reconcile", check=False)
        assert drift.returncode != 0, drift.stdout
        assert f"DRIFT cards.event (rows): here {events}, parent {events - 1}" in drift.stdout, drift.stdout
        conn.execute("INSERT INTO cards_cardevent SELECT * FROM kept")
    assert "no drift" in city.manage("sync", "reconcile").stdout
