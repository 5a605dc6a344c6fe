"""Card maintenance in the browser admin (buttons on the card page with their dialogs, the holder page's
blacklist entry, death records) and the staff API (`/api/v1/cards/{id}/report-loss/` ...); scope."""

from __future__ import annotations

import io

import pytest
from django.utils import translation
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cards.choices import CardEventKind, CardStatus
from cards.models import Card, CardEvent, DeathRecord
from registry.choices import ListReason
from tests.cards.test_issuance_actions import baoji_clerk, hospital, make_cards  # noqa: F401
from tests.cards.test_maintenance_actions import active_card, black, chip, make_active, white  # noqa: F401
from tests.institutions.conftest import card_maker, make_institution  # noqa: F401


@pytest.fixture
def manager(make_user, settings):
    settings.HC_REGION = "610000"
    return make_user("xian_manager", roles=["卡管理员"], scope="610100")


@pytest.fixture
def baoji(make_user, settings):
    settings.HC_REGION = "610000"
    return make_user("baoji_manager", roles=["卡管理员"], scope="610300")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def zh(label) -> str:
    with translation.override("zh-hans"):  # the admin's language
        return str(label)


def xlsx_text(response) -> str:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return " ".join(str(c) for row in book.active.iter_rows(values_only=True) for c in row if c is not None)


# --- Admin ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_card_page_buttons_report_loss_unloss_replace(client, manager, active_card):  # noqa: F811
    client.force_login(manager)
    page = client.get(f"/admin/cards/card/{active_card.pk}/change/")
    urls = [url for _label, url in page.context["detail_buttons"]]
    base = f"/admin/cards/card/{active_card.pk}/maintain/"
    assert f"{base}loss/" in urls and f"{base}cancel/" in urls and f"{base}replace/" in urls
    assert f"{base}unloss/" not in urls  # only a lost card is unreported
    assert client.get(f"{base}loss/").status_code == 200

    wrong = client.post(f"{base}loss/", {"document_type": "01", "document_number": "610113198506150011"})
    assert wrong.status_code == 200 and wrong.context["form"].non_field_errors()  # identity mismatch shown
    number = active_card.resident.document_number
    done = client.post(f"{base}loss/", {"document_type": "01", "document_number": number, "note": "丢失"})
    assert done.status_code == 302
    card = Card.objects.get(pk=active_card.pk)
    assert card.status == CardStatus.LOST and black(card).reason == ListReason.LOST
    page = client.get(f"/admin/cards/card/{card.pk}/change/")
    assert f"{base}unloss/" in [url for _label, url in page.context["detail_buttons"]]

    assert (
        client.post(f"{base}unloss/", {"document_type": "01", "document_number": number}).status_code == 302
    )
    assert Card.objects.get(pk=card.pk).status == CardStatus.ACTIVE

    serial = chip()
    replaced = client.post(
        f"{base}replace/", {"reason": "damaged", "note": "卡面破损", "new_chip_serial": serial}
    )
    new = Card.objects.get(chip_serial=serial)
    assert replaced.status_code == 302 and replaced["Location"] == f"/admin/cards/card/{new.pk}/change/"
    assert Card.objects.get(pk=card.pk).status == CardStatus.REPLACED and white(new) is not None
    html = client.get(f"/admin/cards/card/{new.pk}/change/").content.decode()
    assert f"/admin/cards/card/{card.pk}/change/" in html  # the link to the card it replaces
    assert zh(CardEventKind.REPLACED.label) in html and zh(CardEventKind.REPLACEMENT.label) in html


@pytest.mark.django_db
def test_the_cancel_dialog_requires_a_reason_and_the_timeline_exports(client, manager, active_card):  # noqa: F811
    client.force_login(manager)
    base = f"/admin/cards/card/{active_card.pk}/maintain/"
    empty = client.post(f"{base}cancel/", {"reason": "request", "note": ""})
    assert empty.status_code == 200 and empty.context["form"].errors
    assert Card.objects.get(pk=active_card.pk).status == CardStatus.ACTIVE
    assert client.post(f"{base}cancel/", {"reason": "request", "note": "本人申请"}).status_code == 302
    card = Card.objects.get(pk=active_card.pk)
    assert card.status == CardStatus.CANCELLED
    page = client.get(f"/admin/cards/card/{card.pk}/change/")
    assert not any("/maintain/" in url for _label, url in page.context["detail_buttons"])
    refused = client.post(
        f"{base}loss/", {"document_type": "01", "document_number": card.resident.document_number}
    )
    assert refused.status_code == 200 and refused.context["form"].non_field_errors()
    export = client.get(f"/admin/cards/card/{card.pk}/timeline.xlsx")
    text = xlsx_text(export)
    assert zh(CardEventKind.CANCELLED.label) in text and card.card_no not in text


@pytest.mark.django_db
def test_a_clerk_of_another_city_cannot_use_the_buttons(client, baoji, active_card):  # noqa: F811
    client.force_login(baoji)
    number = active_card.resident.document_number
    response = client.post(
        f"/admin/cards/card/{active_card.pk}/maintain/loss/",
        {"document_type": "01", "document_number": number},
    )
    assert response.status_code == 404
    other = api(baoji)
    refused = other.post(
        f"/api/v1/cards/{active_card.pk}/report-loss/", {"document_number": number}, format="json"
    )
    assert refused.status_code == 404
    assert Card.objects.get(pk=active_card.pk).status == CardStatus.ACTIVE


@pytest.mark.django_db
def test_the_holder_page_blacklists_a_person_and_exports_the_timeline(client, manager, active_card):  # noqa: F811
    client.force_login(manager)
    holder = active_card.resident
    page = client.get(f"/admin/cards/resident/{holder.pk}/change/").content.decode()
    assert f"/admin/cards/resident/{holder.pk}/blacklist/" in page
    assert client.post(f"/admin/cards/resident/{holder.pk}/blacklist/", {"reason": ""}).status_code == 200
    done = client.post(
        f"/admin/cards/resident/{holder.pk}/blacklist/", {"reason": "骗保", "valid_until": "2030-01-01"}
    )
    assert done.status_code == 302
    page = client.get(f"/admin/cards/resident/{holder.pk}/change/").content.decode()
    assert f"/admin/cards/resident/{holder.pk}/unblacklist/" in page
    assert CardEvent.objects.filter(resident=holder, kind=CardEventKind.PERSON_BLACKLISTED).exists()
    text = xlsx_text(client.get(f"/admin/cards/resident/{holder.pk}/timeline.xlsx"))
    assert zh(CardEventKind.PERSON_BLACKLISTED.label) in text and holder.document_number not in text
    # The people on the blacklist: who, why, until when, who decided; exported; another city sees none.
    listed = client.get("/admin/cards/personblacklistentry/")
    assert listed.status_code == 200 and [e.note for e in listed.context["cl"].result_list] == ["骗保"]
    sheet = xlsx_text(client.get("/admin/cards/personblacklistentry/export/xlsx/"))
    assert "骗保" in sheet and "2030-01-01" in sheet and "xian_manager" in sheet
    assert holder.document_number not in sheet


@pytest.mark.django_db
def test_another_city_does_not_see_the_person_entries(client, baoji, manager, active_card, system_actor):  # noqa: F811
    from cards import actions

    actions.person_blacklist_add(actor=system_actor, resident=active_card.resident, reason="骗保")
    client.force_login(baoji)
    assert list(client.get("/admin/cards/personblacklistentry/").context["cl"].result_list) == []
    assert client.get(f"/admin/cards/resident/{active_card.resident_id}/unblacklist/").status_code == 404


# --- Staff API ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_loss_unloss_replace_cancel(manager, make_active):  # noqa: F811
    client = api(manager)
    card = make_active()
    number = card.resident.document_number
    lost = client.post(f"/api/v1/cards/{card.pk}/report-loss/", {"document_number": number}, format="json")
    assert lost.status_code == 200 and lost.json()["status"] == "lost"
    again = client.post(f"/api/v1/cards/{card.pk}/report-loss/", {"document_number": number}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    back = client.post(f"/api/v1/cards/{card.pk}/unreport-loss/", {"document_number": number}, format="json")
    assert back.json()["status"] == "active"
    serial = chip()
    new = client.post(
        f"/api/v1/cards/{card.pk}/replace/", {"reason": "lost", "new_chip_serial": serial}, format="json"
    )
    assert (
        new.status_code == 201 and new.json()["chip_serial"] == serial and new.json()["replaces"] == card.pk
    )
    timeline = client.get(f"/api/v1/cards/{new.json()['id']}/timeline/").json()
    assert [e["kind"] for e in timeline].count("replaced") == 1
    other = make_active()
    cancelled = client.post(
        f"/api/v1/cards/{other.pk}/cancel/", {"reason": "duplicate", "note": "重复"}, format="json"
    )
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["status_reason"] == "duplicate"
    refused = client.post(f"/api/v1/cards/{other.pk}/unreport-loss/", {"document_number": "x"}, format="json")
    assert refused.status_code == 409 and "cancelled" == refused.json()["detail"]["current"]


@pytest.mark.django_db
def test_api_death_record_and_counts(manager, make_active, system_actor):  # noqa: F811
    client = api(manager)
    card = make_active()
    body = {
        "registry": "公安人口死亡登记",
        "record_id": "API-1",
        "id_number": card.resident.document_number,
        "name": card.resident.name,
        "died_on": "2026-11-01",
    }
    created = client.post("/api/v1/death-records/", body, format="json")
    assert created.status_code == 201 and created.json()["status"] == "applied"
    assert card.resident.document_number not in created.content.decode()
    assert Card.objects.get(pk=card.pk).status == CardStatus.CANCELLED
    assert client.post("/api/v1/death-records/", body, format="json").status_code == 201
    assert DeathRecord.objects.count() == 1
    assert client.get("/api/v1/death-records/").json()["results"][0]["record_id"] == "API-1"
    restored = client.post(f"/api/v1/cards/{card.pk}/death-correct/", {"note": "误报"}, format="json")
    assert restored.json()["status"] == "active"
    from django.utils import timezone

    today = timezone.localdate().isoformat()
    rows = client.get(f"/api/v1/cards/lifecycle-counts/?date_from={today}&date_to={today}").json()
    assert {"region": card.region_id, "period": today[:7], "kind": "cancelled", "count": 1} in rows


@pytest.mark.django_db
def test_api_person_entry_and_timeline(manager, make_active):  # noqa: F811
    client = api(manager)
    card = make_active()
    holder = card.resident
    added = client.post(
        f"/api/v1/holders/{holder.pk}/blacklist/",
        {"reason": "骗保", "valid_until": "2030-01-01"},
        format="json",
    )
    assert (
        added.status_code == 200 and added.json()["listed"] and added.json()["decided_by"] == "xian_manager"
    )
    assert holder.document_number not in added.content.decode()
    assert "person_blacklisted" in [
        e["kind"] for e in client.get(f"/api/v1/holders/{holder.pk}/timeline/").json()
    ]
    removed = client.post(f"/api/v1/holders/{holder.pk}/unblacklist/", {"reason": "复核撤销"}, format="json")
    assert removed.status_code == 200 and not removed.json()["listed"]
