"""Card pages: the masked list with collected / uncollected filters and exports, the detail with its case
history, the collection desk, the on-site issuance page, and the staff API; scope and permissions."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cards import actions
from cards.choices import ApplicationChannel, ApplicationStatus, CardStatus
from cards.models import Application, Card
from registry.protection import mask_id_number
from tests.institutions.conftest import card_maker, make_institution  # noqa: F401

from .conftest import make_id_number
from .test_issuance_actions import awaiting_card, hospital, make_cards, pdf_text  # noqa: F401


@pytest.fixture
def clerk(make_user, settings):
    settings.HC_REGION = "610000"
    return make_user("xian_clerk", roles=["发卡操作员"], scope="610100")


@pytest.fixture
def baoji(make_user, settings):
    settings.HC_REGION = "610000"
    return make_user("baoji_manager", roles=["卡管理员"], scope="610300")


@pytest.fixture
def reader(make_user, settings):
    settings.HC_REGION = "610000"
    return make_user("xian_reader", roles=["只读用户"], scope="610100")


@pytest.fixture
def some_cards(approved_application, make_cards, system_actor):  # noqa: F811
    """Three cards waiting at the hospital, one of them then collected."""
    cards = make_cards([approved_application(name=name) for name in ("王小明", "张三丰", "李小红")])
    collected = actions.card_collect(
        actor=system_actor,
        card=cards[0],
        identity_document_type="01",
        identity_document_number_seen=cards[0].resident.document_number,
    )
    return collected, cards[1], cards[2]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def xlsx_cells(response) -> list:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [cell for row in book.active.iter_rows(values_only=True) for cell in row]


# --- Admin -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_card_list_is_masked_with_collected_and_uncollected_lists(client, clerk, some_cards):
    collected, waiting, _other = some_cards
    client.force_login(clerk)
    page = client.get("/admin/cards/card/")
    html = page.content.decode()
    assert len(page.context["cl"].result_list) == 3
    assert (
        mask_id_number(collected.card_no) in html and collected.card_no not in html and "王小明" not in html
    )
    assert "王**" in html
    uncollected = client.get("/admin/cards/card/", {"collection": "uncollected"}).context["cl"].result_list
    assert sorted(c.pk for c in uncollected) == sorted([waiting.pk, _other.pk])
    done = client.get("/admin/cards/card/", {"collection": "collected"}).context["cl"].result_list
    assert [c.pk for c in done] == [collected.pk]
    found = (
        client.get("/admin/cards/card/", {"q": waiting.resident.document_number}).context["cl"].result_list
    )
    assert [c.pk for c in found] == [waiting.pk]
    by_chip = client.get("/admin/cards/card/", {"q": waiting.chip_serial.lower()}).context["cl"].result_list
    assert [c.pk for c in by_chip] == [waiting.pk]

    export = client.get("/admin/cards/card/export/xlsx/", {"collection": "uncollected"})
    cells = xlsx_cells(export)
    assert mask_id_number(waiting.card_no) in cells and mask_id_number(collected.card_no) not in cells
    assert waiting.card_no not in cells and waiting.chip_serial in cells
    printed = client.get("/admin/cards/card/export/pdf/", {"collection": "collected"})
    text = pdf_text(b"".join(printed.streaming_content))
    assert collected.chip_serial in text and waiting.chip_serial not in text


@pytest.mark.django_db
def test_card_detail_shows_the_case_history_and_the_receipt(client, clerk, some_cards):
    collected, waiting, _other = some_cards
    client.force_login(clerk)
    detail = client.get(f"/admin/cards/card/{collected.pk}/change/")
    html = detail.content.decode()
    assert detail.status_code == 200 and "hc-history" in html
    assert html.index(collected.application.number) > 0
    labels = [url for _label, url in detail.context["detail_buttons"]]
    assert labels[0] == f"/admin/cards/card/{collected.pk}/receipt/"
    assert f"/admin/cards/card/{collected.pk}/maintain/loss/" in labels  # Cards II: the maintenance buttons
    assert 'name="_save"' not in html  # read-only: changes go through actions
    receipt = client.get(f"/admin/cards/card/{collected.pk}/receipt/")
    text = pdf_text(b"".join(receipt.streaming_content))
    assert "王**" in text and mask_id_number(collected.card_no) in text and collected.card_no not in text
    waiting_detail = client.get(f"/admin/cards/card/{waiting.pk}/change/")
    assert any("collect" in url for _label, url in waiting_detail.context["detail_buttons"])


@pytest.mark.django_db
def test_the_collection_desk(client, clerk, awaiting_card):  # noqa: F811
    client.force_login(clerk)
    assert client.get("/admin/cards/card/collect/").status_code == 200
    missing = client.post(
        "/admin/cards/card/collect/",
        {"step": "find", "document_type": "01", "document_number": make_id_number()},
    )
    assert missing.status_code == 200 and missing.context["find_form"].errors
    found = client.post(
        "/admin/cards/card/collect/",
        {"step": "find", "document_type": "01", "document_number": awaiting_card.resident.document_number},
    )
    assert found.status_code == 302 and awaiting_card.resident.document_number not in found["Location"]
    page = client.get(found["Location"])
    assert [card.pk for card, _form in page.context["rows"]] == [awaiting_card.pk]
    prefix = f"c{awaiting_card.pk}"
    post = {
        "step": "collect",
        "card_pk": awaiting_card.pk,
        f"{prefix}-card": awaiting_card.pk,
        f"{prefix}-identity_document_type": "01",
        f"{prefix}-identity_document_number_seen": make_id_number(),
    }
    wrong = client.post(found["Location"], post)
    assert wrong.status_code == 200 and wrong.context["rows"][0][1].non_field_errors()
    assert Card.objects.get(pk=awaiting_card.pk).status == CardStatus.AWAITING_COLLECTION
    post[f"{prefix}-identity_document_number_seen"] = awaiting_card.resident.document_number
    done = client.post(found["Location"], post)
    assert done.status_code == 302 and done["Location"] == f"/admin/cards/card/{awaiting_card.pk}/change/"
    assert Card.objects.get(pk=awaiting_card.pk).status == CardStatus.ACTIVE


@pytest.mark.django_db
def test_the_onsite_page_walks_allocate_complete_and_apply(
    client,
    clerk,
    approved_application,
    make_holder,
    hospital,  # noqa: F811
):
    application = approved_application()
    client.force_login(clerk)
    found = client.post(
        "/admin/cards/card/onsite/",
        {"step": "find", "document_type": "01", "document_number": application.resident.document_number},
    )
    page = client.get(found["Location"])
    assert [a.pk for a, _form in page.context["applications"]] == [application.pk]
    assert "admin/js/autocomplete.js" in str(page.context["media"])
    prefix = f"a{application.pk}"
    client.post(
        found["Location"],
        {
            "step": "allocate",
            "application_pk": application.pk,
            f"{prefix}-application": application.pk,
            f"{prefix}-medical_institution": hospital.pk,
        },
    )
    card = Card.objects.get(application=application)
    assert card.status == CardStatus.ISSUING
    page = client.get(found["Location"])
    assert [c.pk for c, _complete, _abort in page.context["issuing"]] == [card.pk]
    done = client.post(
        found["Location"],
        {
            "step": "complete",
            "card_pk": card.pk,
            f"k{card.pk}-card": card.pk,
            f"k{card.pk}-chip_serial": "9F00AA01",
        },
    )
    assert done.status_code == 302
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE and card.chip_serial == "9F00AA01"

    # A holder with no application applies and gets a card allocated in one step, then the write fails.
    holder = make_holder(name="赵敏")
    found = client.post(
        "/admin/cards/card/onsite/",
        {"step": "find", "document_type": "01", "document_number": holder.document_number},
    )
    client.post(
        found["Location"],
        {"step": "apply", "apply-applicant_kind": "holder", "apply-medical_institution": hospital.pk},
    )
    application = Application.objects.get(resident=holder)
    assert (
        application.channel == ApplicationChannel.ONSITE and application.status == ApplicationStatus.APPROVED
    )
    card = Card.objects.get(application=application)
    client.post(
        found["Location"],
        {
            "step": "abort",
            "card_pk": card.pk,
            f"x{card.pk}-card": card.pk,
            f"x{card.pk}-reason": "读卡器故障",
        },
    )
    assert Card.objects.get(pk=card.pk).status == CardStatus.CANCELLED


@pytest.mark.django_db
def test_a_reader_sees_cards_but_cannot_collect_or_issue(client, reader, awaiting_card):  # noqa: F811
    client.force_login(reader)
    assert client.get("/admin/cards/card/").status_code == 200
    assert client.get("/admin/cards/card/collect/").status_code == 403
    assert client.get("/admin/cards/card/onsite/").status_code == 403
    refused = api(reader).post(
        f"/api/v1/cards/{awaiting_card.pk}/collect/",
        {"identity_document_number_seen": awaiting_card.resident.document_number},
        format="json",
    )
    assert refused.status_code == 403
    assert Card.objects.get(pk=awaiting_card.pk).status == CardStatus.AWAITING_COLLECTION


# --- Staff API -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_cards_list_history_collect_receipt(clerk, some_cards, approved_application, make_cards):  # noqa: F811
    collected, waiting, _other = some_cards
    client = api(clerk)
    rows = client.get("/api/v1/cards/").json()["results"]
    assert len(rows) == 3 and all("**********" in r["card_no"] and "*" in r["holder_name"] for r in rows)
    uncollected = client.get("/api/v1/cards/", {"collection": "uncollected"}).json()["results"]
    assert sorted(r["id"] for r in uncollected) == sorted([waiting.pk, _other.pk])
    exact = client.get("/api/v1/cards/", {"holder_document": waiting.resident.document_number}).json()[
        "results"
    ]
    assert [r["id"] for r in exact] == [waiting.pk] and exact[0]["issuing_point_name"] == "雁塔区人民医院"

    history = client.get(f"/api/v1/cards/{collected.pk}/history/").json()
    assert [e["kind"] for e in history][-1] == "collected" and history[0]["kind"] == "applied"
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)

    wrong = client.post(
        f"/api/v1/cards/{waiting.pk}/collect/",
        {"identity_document_number_seen": make_id_number()},
        format="json",
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "identity_mismatch"
    ok = client.post(
        f"/api/v1/cards/{waiting.pk}/collect/",
        {"identity_document_number_seen": waiting.resident.document_number, "note": "本人领取"},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["status"] == "active" and ok.json()["collected_at"]
    again = client.post(
        f"/api/v1/cards/{waiting.pk}/collect/",
        {"identity_document_number_seen": waiting.resident.document_number},
        format="json",
    )
    assert again.status_code == 409 and again.json()["detail"]["current"] == "active"

    receipt = client.get(f"/api/v1/cards/{waiting.pk}/receipt/")
    text = pdf_text(b"".join(receipt.streaming_content))
    assert (
        mask_id_number(waiting.card_no) in text
        and waiting.card_no not in text
        and waiting.chip_serial in text
    )

    (in_stock,) = make_cards([approved_application()], stop=CardStatus.IN_STOCK)
    refused = client.post(
        f"/api/v1/cards/{in_stock.pk}/collect/",
        {"identity_document_number_seen": in_stock.resident.document_number},
        format="json",
    )
    assert refused.status_code == 409 and refused.json()["detail"]["current"] == "in_stock"
    assert client.get(f"/api/v1/cards/{in_stock.pk}/receipt/").json()["code"] == "no_collection_receipt"

    export = client.get("/api/v1/cards/export/", {"as": "xlsx", "collection": "collected"})
    cells = xlsx_cells(export)
    assert mask_id_number(collected.card_no) in cells and collected.card_no not in cells


@pytest.mark.django_db
def test_api_card_list_has_no_n_plus_one(clerk, approved_application, make_cards):  # noqa: F811
    make_cards([approved_application() for _ in range(2)])
    client = api(clerk)
    client.get("/api/v1/cards/")  # the user's permissions are cached after the first request
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/cards/")
    make_cards([approved_application() for _ in range(4)])
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/cards/").json()["results"]) == 6
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_api_onsite_issuance(clerk, approved_application, hospital):  # noqa: F811
    application = approved_application()
    client = api(clerk)
    allocated = client.post(
        "/api/v1/cards/onsite-allocate/",
        {"application": application.number, "issuing_point": hospital.code},
        format="json",
    )
    assert allocated.status_code == 201, allocated.json()
    card = allocated.json()
    assert card["status"] == "issuing" and card["chip_serial"] == ""
    aborted = client.post(f"/api/v1/cards/{card['id']}/onsite-abort/", {"reason": "写卡失败"}, format="json")
    assert aborted.json()["status"] == "cancelled"
    second = client.post(
        "/api/v1/cards/onsite-allocate/",
        {"application": application.number, "issuing_point": hospital.code},
        format="json",
    ).json()
    done = client.post(
        f"/api/v1/cards/{second['id']}/onsite-complete/", {"chip_serial": "5A5A0001"}, format="json"
    )
    assert (
        done.status_code == 200
        and done.json()["status"] == "active"
        and done.json()["chip_serial"] == "5A5A0001"
    )
    unknown = client.post(
        "/api/v1/cards/onsite-allocate/",
        {"application": "A000000-x", "issuing_point": hospital.code},
        format="json",
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "application_not_found"


# --- Scope -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_clerk_of_another_city_cannot_see_or_touch_xian_cards(
    client,
    baoji,
    awaiting_card,  # noqa: F811
    approved_application,
    hospital,  # noqa: F811
):
    client.force_login(baoji)
    assert list(client.get("/admin/cards/card/").context["cl"].result_list) == []
    assert client.get(f"/admin/cards/card/{awaiting_card.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/cards/card/{awaiting_card.pk}/receipt/").status_code == 404
    assert client.get(f"/admin/cards/card/collect/?holder={awaiting_card.resident_id}").status_code == 404
    assert client.get(f"/admin/cards/card/onsite/?holder={awaiting_card.resident_id}").status_code == 404
    found = client.post(
        "/admin/cards/card/collect/",
        {"step": "find", "document_type": "01", "document_number": awaiting_card.resident.document_number},
    )
    assert found.status_code == 200 and found.context["find_form"].errors  # not a holder of Baoji

    other = api(baoji)
    assert other.get("/api/v1/cards/").json()["results"] == []
    for path in ("", "history/", "receipt/"):
        assert other.get(f"/api/v1/cards/{awaiting_card.pk}/{path}").status_code == 404
    collect = other.post(
        f"/api/v1/cards/{awaiting_card.pk}/collect/",
        {"identity_document_number_seen": awaiting_card.resident.document_number},
        format="json",
    )
    assert collect.status_code == 404
    allocate = other.post(
        "/api/v1/cards/onsite-allocate/",
        {"application": approved_application().number, "issuing_point": hospital.code},
        format="json",
    )
    assert allocate.status_code == 404
    assert Card.objects.get(pk=awaiting_card.pk).status == CardStatus.AWAITING_COLLECTION
