"""Card use records (刷卡记录): batches from hospitals, taken once, unknown cards kept as rejected rows, daily
aggregates that equal a direct count, journaled as absolute counts, scoped lists and exports."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cards import actions
from cards.actions.uses import BatchConflictError, daily_key
from cards.choices import CardStatus
from cards.models import CardUse, CardUseBatch, CardUseDaily
from cards.selectors.uses import card_use_counts, card_use_frequency
from registry.actors import Actor
from registry.choices import Channel
from registry.errors import DomainError
from registry.models import AuditEntry, JournalEntry
from tests.institutions.conftest import card_maker, make_institution  # noqa: F401

from .test_issuance_actions import hospital, make_cards  # noqa: F401

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def cards(approved_application, make_cards):  # noqa: F811
    return make_cards([approved_application("610113") for _ in range(2)], stop=CardStatus.IN_STOCK)


def use(card, at: str, scenario: str = "consultation", **extra) -> dict:
    return {
        "card_no": card.card_no,
        "chip_serial": card.chip_serial,
        "used_at": at,
        "scenario": scenario,
        **extra,
    }


def ingest(system_actor, hospital, batch_id, records):  # noqa: F811
    return actions.card_use_ingest_batch(
        actor=system_actor, institution=hospital, batch_id=batch_id, records=records
    )


def direct_counts() -> dict:
    """Accepted uses per (local day, institution, scenario), counted from the raw records."""
    counts: dict = {}
    for use_ in CardUse.objects.filter(status="accepted"):
        key = (timezone.localtime(use_.used_at).date(), use_.institution_id, use_.scenario)
        counts[key] = counts.get(key, 0) + 1
    return counts


def daily_counts() -> dict:
    return {(d.day, d.institution_id, d.scenario): d.count for d in CardUseDaily.objects.all()}


@pytest.mark.django_db
def test_batch_is_taken_with_daily_aggregates_audit_and_journal(system_actor, hospital, cards):  # noqa: F811
    a, b = cards
    result = ingest(
        system_actor,
        hospital,
        "H-2026-11-20-1",
        [
            use(a, "2026-11-20T08:30:00", "registration"),
            use(a, "2026-11-20T09:05:00", "consultation"),
            use(b, "2026-11-20T23:30:00+08:00", "pharmacy"),  # 15:30 UTC: still the 20th in Xi'an
            use(b, "2026-11-21T00:10:00", "pharmacy"),
        ],
    )
    assert (result.accepted, result.duplicates, result.rejected, result.resent) == (4, 0, [], False)
    assert CardUse.objects.filter(status="accepted", region_id="610113").count() == 4
    assert set(CardUse.objects.values_list("card_id", flat=True)) == {a.pk, b.pk}
    day = dt.date(2026, 11, 20)
    assert daily_counts() == direct_counts()
    assert daily_counts()[(day, hospital.pk, "pharmacy")] == 1
    assert daily_counts()[(day + dt.timedelta(days=1), hospital.pk, "pharmacy")] == 1
    rows = JournalEntry.objects.filter(kind="cards.use_daily")
    assert rows.count() == 4
    pharmacy = rows.get(key=daily_key(day, hospital.code, "pharmacy"))
    assert pharmacy.payload == {
        "day": "2026-11-20",
        "institution": hospital.code,
        "scenario": "pharmacy",
        "region": "610113",
        "count": 1,
    }
    audit = AuditEntry.objects.get(action="card_use.ingest")
    assert audit.changes["accepted"] == 4 and audit.region_code == "610113"
    # No card number in clear anywhere in the use tables.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {CardUse._meta.db_table}")  # noqa: S608
        dump = repr(cursor.fetchall())
        cursor.execute(f"SELECT * FROM {CardUseBatch._meta.db_table}")  # noqa: S608
        dump += repr(cursor.fetchall())
    assert a.card_no not in dump and b.card_no not in dump


@pytest.mark.django_db
def test_resent_batch_counts_once_and_returns_the_first_result(system_actor, hospital, cards):  # noqa: F811
    a, b = cards
    records = [use(a, "2026-11-20T08:30:00"), use(b, "2026-11-20T08:31:00"), use(b, "2026-11-20T08:31:00")]
    first = ingest(system_actor, hospital, "B1", records)
    assert (first.accepted, first.duplicates) == (2, 1)  # the repeated record counts once
    before = (
        CardUse.objects.count(),
        JournalEntry.objects.count(),
        AuditEntry.objects.count(),
        daily_counts(),
    )
    again = ingest(system_actor, hospital, "B1", [dict(r) for r in records])
    assert again.resent and (again.accepted, again.duplicates, again.rejected) == (2, 1, [])
    assert again.batch.pk == first.batch.pk
    after = (
        CardUse.objects.count(),
        JournalEntry.objects.count(),
        AuditEntry.objects.count(),
        daily_counts(),
    )
    assert after == before
    # The same uses in a new batch (a hospital re-sending its day under another id) are duplicates too.
    overlap = ingest(system_actor, hospital, "B2", [*records[:2], use(a, "2026-11-20T10:00:00", "lab")])
    assert (overlap.accepted, overlap.duplicates) == (1, 2)
    assert daily_counts() == direct_counts()
    assert daily_counts()[(dt.date(2026, 11, 20), hospital.pk, "consultation")] == 2
    # The journal carries the absolute count: the last row of a key is the current figure.
    last = JournalEntry.objects.filter(kind="cards.use_daily").order_by("-seq").first()
    assert last.payload["count"] == 1 and last.payload["scenario"] == "lab"


@pytest.mark.django_db
def test_same_batch_id_with_other_records_is_refused(system_actor, hospital, cards):  # noqa: F811
    a, b = cards
    ingest(system_actor, hospital, "B1", [use(a, "2026-11-20T08:30:00")])
    count = CardUse.objects.count()
    with pytest.raises(BatchConflictError) as refused:
        ingest(system_actor, hospital, "B1", [use(b, "2026-11-20T08:30:00")])
    assert refused.value.code == "batch_conflict" and refused.value.status == 409
    assert "B1" in refused.value.message_zh and "new batch id" in refused.value.message_en
    assert CardUse.objects.count() == count


@pytest.mark.django_db
def test_unknown_cards_and_bad_records_are_kept_as_rejected_rows_with_reasons(
    system_actor,
    hospital,  # noqa: F811
    cards,
):
    a, _b = cards
    future = (timezone.now() + dt.timedelta(days=2)).isoformat()
    result = ingest(
        system_actor,
        hospital,
        "B1",
        [
            use(a, "2026-11-20T08:30:00"),
            {**use(a, "2026-11-20T08:40:00"), "chip_serial": "FFFFFFFF"},  # right number, other chip
            {**use(a, "2026-11-20T08:40:00"), "card_no": "610113198506150000"},
            use(a, "yesterday"),
            use(a, future),
            use(a, "2026-11-20T08:50:00", "shopping"),
            {"card_no": a.card_no, "used_at": "2026-11-20T08:55:00", "scenario": "lab"},
        ],
    )
    assert result.accepted == 1
    reasons = {r["line"]: r["code"] for r in result.rejected}
    assert reasons == {
        2: "unknown_card",
        3: "unknown_card",
        4: "bad_time",
        5: "future_time",
        6: "bad_scenario",
        7: "missing_card",
    }
    unknown = result.rejected[0]
    assert unknown["message_en"] == "No card with this card number and chip serial is known here."
    rows = CardUse.objects.filter(status="rejected").order_by("line")
    assert [(r.line, r.reason) for r in rows] == sorted(reasons.items())
    stranger = rows.get(line=2)
    assert (
        stranger.card_id is None
        and stranger.card_index == a.card_index
        and stranger.chip_serial == "FFFFFFFF"
    )
    assert daily_counts() == direct_counts() == {(dt.date(2026, 11, 20), hospital.pk, "consultation"): 1}
    # The rejections come back the same on a resend.
    assert (
        ingest(
            system_actor,
            hospital,
            "B1",
            [
                use(a, "2026-11-20T08:30:00"),
                {**use(a, "2026-11-20T08:40:00"), "chip_serial": "FFFFFFFF"},
                {**use(a, "2026-11-20T08:40:00"), "card_no": "610113198506150000"},
                use(a, "yesterday"),
                use(a, future),
                use(a, "2026-11-20T08:50:00", "shopping"),
                {"card_no": a.card_no, "used_at": "2026-11-20T08:55:00", "scenario": "lab"},
            ],
        ).rejected
        == result.rejected
    )


@pytest.mark.django_db
def test_batch_level_errors(system_actor, hospital, cards):  # noqa: F811
    with pytest.raises(DomainError) as empty:
        ingest(system_actor, hospital, "B1", [])
    assert empty.value.code == "batch_empty"
    with pytest.raises(DomainError) as no_id:
        ingest(system_actor, hospital, "  ", [use(cards[0], "2026-11-20T08:30:00")])
    assert no_id.value.code == "batch_id_invalid"


@pytest.mark.django_db
def test_aggregates_equal_a_direct_count_and_feed_statistics(system_actor, hospital, cards, make_institution):  # noqa: F811
    a, b = cards
    other = make_institution("610102", name="新城区医院")
    start = dt.datetime(2026, 9, 1, 7, 0, tzinfo=SHANGHAI)
    scenarios = ["registration", "consultation", "pharmacy", "lab", "settlement", "inpatient_admission"]
    for batch in range(4):
        records = [
            use(card, (start + dt.timedelta(hours=7 * i + batch)).isoformat(), scenarios[(i + batch) % 6])
            for i in range(30)
            for card in (a, b)
        ]
        ingest(system_actor, hospital if batch % 2 else other, f"B{batch}", records)
    assert daily_counts() == direct_counts()
    assert sum(daily_counts().values()) == CardUse.objects.filter(status="accepted").count() == 240
    rows = card_use_counts(
        region_prefix_code="610100", date_from=dt.date(2026, 9, 1), date_to=dt.date(2026, 9, 30)
    )
    assert sum(r["count"] for r in rows) == 240
    assert {r["region"] for r in rows} == {"610113", "610102"}
    yanta = card_use_counts(
        region_prefix_code="610113",
        date_from=dt.date(2026, 9, 1),
        date_to=dt.date(2026, 9, 30),
        by=("scenario",),
    )
    assert sum(r["count"] for r in yanta) == 120
    frequency = card_use_frequency(card=a)
    assert frequency["total"] == 120 and sum(frequency["by_scenario"].values()) == 120
    assert frequency["first"] == start
    direct = dict(
        CardUse.objects.filter(card=a)
        .values_list("scenario")
        .annotate(n=Count("id"))
        .values_list("scenario", "n")
    )
    assert frequency["by_scenario"] == direct


@pytest.mark.django_db
def test_daily_apply_from_below_sets_the_absolute_count_idempotently(system_actor, hospital):  # noqa: F811
    sync = Actor.system(channel=Channel.SYNC, label="sync")
    payload = {
        "day": "2026-11-20",
        "institution": hospital.code,
        "scenario": "lab",
        "region": "610113",
        "count": 7,
    }
    actions.card_use_daily_apply(actor=sync, payload=payload)
    actions.card_use_daily_apply(actor=sync, payload=payload)
    actions.card_use_daily_apply(actor=sync, payload={**payload, "count": 9})
    assert list(CardUseDaily.objects.values_list("count", flat=True)) == [9]
    assert JournalEntry.objects.filter(kind="cards.use_daily").count() == 2
    with pytest.raises(DomainError):
        actions.card_use_daily_apply(actor=system_actor, payload=payload)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _cells(response) -> set:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return {c for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in row}


@pytest.mark.django_db
def test_staff_api_ingest_list_export_and_scope(make_user, settings, hospital, cards):  # noqa: F811
    settings.HC_REGION = "610000"
    manager = make_user("xian_manager", roles=["卡管理员"], scope="610100")
    baoji = make_user("baoji_manager", roles=["卡管理员"], scope="610300")
    a, b = cards
    body = {
        "institution_code": hospital.code,
        "batch_id": "API-1",
        "records": [use(a, "2026-11-20T08:30:00"), use(b, "2026-11-20T08:31:00", "nowhere")],
    }
    created = api(manager).post("/api/v1/card-use-batches/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["accepted"] == 1 and created.json()["rejected"][0]["code"] == "bad_scenario"
    again = api(manager).post("/api/v1/card-use-batches/", body, format="json")
    assert again.status_code == 200 and again.json()["resent"] is True
    conflict = api(manager).post(
        "/api/v1/card-use-batches/", {**body, "records": body["records"][:1]}, format="json"
    )
    assert conflict.status_code == 409 and conflict.json()["code"] == "batch_conflict"
    # Baoji's manager cannot report for a Xi'an hospital, nor see its uses.
    refused = api(baoji).post("/api/v1/card-use-batches/", {**body, "batch_id": "API-2"}, format="json")
    assert refused.status_code == 404
    assert api(baoji).get("/api/v1/card-uses/").json()["results"] == []
    assert api(baoji).get("/api/v1/card-use-daily/").json()["results"] == []

    listing = api(manager).get("/api/v1/card-uses/", {"scenario": "consultation", "date_from": "2026-11-20"})
    (row,) = listing.json()["results"]
    assert row["card_no"] != a.card_no and row["card_no"].endswith(a.card_no[-4:]) and "*" in row["card_no"]
    assert api(manager).get("/api/v1/card-uses/", {"date_to": "2026-11-19"}).json()["results"] == []
    assert len(api(manager).get("/api/v1/card-uses/", {"status": "rejected"}).json()["results"]) == 1
    daily = api(manager).get("/api/v1/card-use-daily/", {"institution": hospital.code}).json()["results"]
    assert [(d["day"], d["scenario"], d["count"]) for d in daily] == [("2026-11-20", "consultation", 1)]
    exported = api(manager).get("/api/v1/card-uses/export/", {"as": "xlsx"})
    cells = _cells(exported)
    assert exported.status_code == 200 and hospital.name in cells and a.card_no not in cells
    assert any(a.card_no[-4:] in str(c) and "*" in str(c) for c in cells)  # the card, masked


@pytest.mark.django_db
def test_out_of_scope_person_cannot_ingest(make_user, settings, system_actor, hospital, cards):  # noqa: F811
    settings.HC_REGION = "610000"
    baoji = make_user("baoji_manager", roles=["卡管理员"], scope="610300")
    with pytest.raises(DomainError) as refused:
        actions.card_use_ingest_batch(
            actor=Actor.for_user(baoji),
            institution=hospital,
            batch_id="X",
            records=[use(cards[0], "2026-11-20T08:00")],
        )
    assert refused.value.code == "out_of_scope"
    assert not CardUseBatch.objects.exists()


@pytest.mark.django_db
def test_admin_lists_are_scoped_and_export(client, make_user, settings, system_actor, hospital, cards):  # noqa: F811
    settings.HC_REGION = "610000"
    manager = make_user("xian_manager", roles=["卡管理员"], scope="610100")
    baoji = make_user("baoji_manager", roles=["卡管理员"], scope="610300")
    ingest(system_actor, hospital, "B1", [use(cards[0], "2026-11-20T08:30:00", "settlement")])
    client.force_login(manager)
    for url in ("/admin/cards/carduse/", "/admin/cards/cardusedaily/", "/admin/cards/cardusebatch/"):
        page = client.get(url)
        assert page.status_code == 200 and hospital.name in page.content.decode()
    filtered = client.get("/admin/cards/carduse/", {"scenario": "lab"})
    assert filtered.status_code == 200 and 'id="result_list"' not in filtered.content.decode()
    exported = client.get("/admin/cards/carduse/export/xlsx/")
    assert exported.status_code == 200 and hospital.name in _cells(exported)
    client.force_login(baoji)
    assert 'id="result_list"' not in client.get("/admin/cards/carduse/").content.decode()
