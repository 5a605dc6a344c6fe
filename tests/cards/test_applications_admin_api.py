"""Applications and batches in the admin and the staff API: masked lists, submit, review, withdraw, receipt,
export, and a city clerk who cannot touch another city's applications."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cards import actions
from cards.choices import ApplicationChannel, ApplicationStatus
from cards.models import Application, ApplicationBatch
from registry.actors import Actor
from registry.errors import DomainError
from registry.models import AuditEntry, Region
from registry.protection import mask_id_number
from tests.institutions.conftest import make_institution  # noqa: F401

from .conftest import make_id_number
from .test_issuance_actions import pdf_text


@pytest.fixture
def province_node(settings):
    settings.HC_REGION = "610000"


@pytest.fixture
def clerk(make_user, province_node):
    return make_user("xian_clerk", roles=["发卡操作员"], scope="610100")


@pytest.fixture
def reviewer(make_user, province_node):
    return make_user("xian_reviewer", roles=["审核员"], scope="610100")


@pytest.fixture
def province_reviewer(make_user, province_node):
    return make_user("sx_reviewer", roles=["审核员"], scope="610000")


@pytest.fixture
def baoji(make_user, province_node):
    return make_user("baoji_manager", roles=["卡管理员", "审核员"], scope="610300")


@pytest.fixture
def batch_of(make_holder, system_actor):
    def make(n: int = 3, county: str = "610113", title: str = "雁塔区某小学"):
        batch = actions.batch_create(actor=system_actor, title=title, region=Region.objects.get(code=county))
        for _ in range(n):
            actions.application_submit(
                actor=system_actor,
                resident=make_holder(county),
                channel=ApplicationChannel.BATCH,
                batch=batch,
            )
        return batch

    return make


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- Admin -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_list_is_masked_filtered_and_searchable(client, clerk, approved_application):
    first = approved_application(name="王小明")
    approved_application(name="张三丰")
    client.force_login(clerk)
    page = client.get("/admin/cards/application/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "王**" in html and mask_id_number(first.resident.document_number) in html
    assert "王小明" not in html and first.resident.document_number not in html
    found = client.get("/admin/cards/application/", {"q": first.resident.document_number})
    assert [a.pk for a in found.context["cl"].result_list] == [first.pk]
    by_number = client.get("/admin/cards/application/", {"q": first.number[:-2]})
    assert first.pk in [a.pk for a in by_number.context["cl"].result_list]
    none = client.get("/admin/cards/application/", {"status__exact": "submitted"})
    assert list(none.context["cl"].result_list) == []


@pytest.mark.django_db
def test_admin_submit_picks_the_holder_by_exact_document_number(client, clerk, make_holder, make_institution):  # noqa: F811
    holder = make_holder("610113", name="李小红")
    hospital = make_institution("610113", name="雁塔区人民医院")
    client.force_login(clerk)
    form = client.get("/admin/cards/application/add/")
    assert form.status_code == 200 and "document_number" in form.content.decode()
    data = {
        "document_type": "01",
        "document_number": make_id_number("610113"),  # valid, but nobody registered it
        "channel": "counter",
        "applicant_kind": "holder",
        "medical_institution": hospital.pk,
    }
    refused = client.post("/admin/cards/application/add/", data)
    assert refused.status_code == 200 and not Application.objects.exists()
    assert "document_number" in refused.context["adminform"].form.errors
    done = client.post("/admin/cards/application/add/", {**data, "document_number": holder.document_number})
    assert done.status_code == 302, done.context["adminform"].form.errors if done.context else ""
    application = Application.objects.get()
    assert application.resident == holder and application.medical_institution == hospital
    assert application.status == ApplicationStatus.APPROVED and application.submitted_by == clerk
    again = client.post("/admin/cards/application/add/", {**data, "document_number": holder.document_number})
    assert again.status_code == 200 and Application.objects.count() == 1  # an open application exists


@pytest.mark.django_db
def test_admin_review_reject_withdraw_and_receipt(client, reviewer, clerk, batch_of):
    batch = batch_of(3)
    first, second, third = Application.objects.filter(batch=batch).order_by("id")
    client.force_login(reviewer)
    detail = client.get(f"/admin/cards/application/{first.pk}/change/")
    assert detail.status_code == 200
    links = dict((str(label), url) for label, url in detail.context["detail_buttons"])
    assert any("review" in url for url in links.values())
    missing_reason = client.post(f"/admin/cards/application/{first.pk}/review/", {"decision": "reject"})
    assert missing_reason.status_code == 200 and missing_reason.context["form"].non_field_errors()
    ok = client.post(f"/admin/cards/application/{first.pk}/review/", {"decision": "approve"})
    assert ok.status_code == 302
    assert Application.objects.get(pk=first.pk).status == ApplicationStatus.CITY_APPROVED

    # Reject from the list, with the reason form of run_with_reason.
    ask = client.post(
        "/admin/cards/application/", {"action": "reject_selected", "_selected_action": [second.pk]}
    )
    assert ask.status_code == 200 and "reason" in ask.content.decode()
    client.post(
        "/admin/cards/application/",
        {
            "action": "reject_selected",
            "_selected_action": [second.pk],
            "apply_reason": "1",
            "reason": "照片不合格",
        },
    )
    second.refresh_from_db()
    assert second.status == ApplicationStatus.REJECTED and second.reviews.get().reason == "照片不合格"

    client.force_login(clerk)
    assert (
        client.post(f"/admin/cards/application/{third.pk}/review/", {"decision": "approve"}).status_code
        == 403
    )
    withdrawn = client.post(f"/admin/cards/application/{third.pk}/withdraw/", {"reason": "家长撤回"})
    assert withdrawn.status_code == 302
    assert Application.objects.get(pk=third.pk).status == ApplicationStatus.WITHDRAWN

    receipt = client.get(f"/admin/cards/application/{third.pk}/receipt/")
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"
    text = pdf_text(b"".join(receipt.streaming_content))
    assert third.number in text and mask_id_number(third.resident.document_number) in text


@pytest.mark.django_db
def test_admin_batch_create_and_approve_all_at_my_level(
    client, reviewer, province_reviewer, clerk, make_holder
):
    client.force_login(clerk)
    created = client.post("/admin/cards/applicationbatch/add/", {"title": "长安区某村", "region": "610116"})
    assert created.status_code == 302
    batch = ApplicationBatch.objects.get()
    assert batch.number.startswith("B610116-")
    for _ in range(3):
        actions.application_submit(
            actor=Actor.for_user(clerk), resident=make_holder("610116"), channel="batch", batch=batch
        )
    page = client.get(f"/admin/cards/application/?batch={batch.pk}")
    assert len(page.context["cl"].result_list) == 3

    client.force_login(reviewer)
    preview = client.get(f"/admin/cards/applicationbatch/{batch.pk}/approve/")
    assert (
        preview.status_code == 200
        and preview.context["waiting_count"] == 3
        and preview.context["level"] == "city"
    )
    client.post(f"/admin/cards/applicationbatch/{batch.pk}/approve/")
    assert set(batch.applications.values_list("status", flat=True)) == {ApplicationStatus.CITY_APPROVED}

    client.force_login(province_reviewer)
    client.post(
        "/admin/cards/applicationbatch/", {"action": "approve_all_selected", "_selected_action": [batch.pk]}
    )
    assert set(batch.applications.values_list("status", flat=True)) == {ApplicationStatus.APPROVED}
    assert AuditEntry.objects.filter(action="application.review.province").count() == 3


# --- Staff API -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_list_is_masked_filtered_and_has_no_n_plus_one(clerk, approved_application, batch_of):
    approved_application(name="王小明")
    batch = batch_of(2)
    client = api(clerk)
    rows = client.get("/api/v1/applications/").json()["results"]
    assert len(rows) == 3
    for row in rows:
        assert "*" in row["holder_name"] and "**********" in row["holder_document"]
    batch_rows = client.get("/api/v1/applications/", {"batch": batch.number}).json()["results"]
    assert {r["status"] for r in batch_rows} == {"submitted"} and len(batch_rows) == 2
    waiting = client.get("/api/v1/applications/", {"waiting_review": "true"}).json()["results"]
    assert len(waiting) == 2
    holder = Application.objects.exclude(batch=batch).get().resident
    exact = client.get("/api/v1/applications/", {"holder_document": holder.document_number}).json()["results"]
    assert [r["holder_name"] for r in exact] == ["王**"]

    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/applications/")
    batch_of(4, title="第二批")
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/applications/").json()["results"]) == 7
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_api_submit_review_withdraw_receipt_export(clerk, reviewer, make_holder, make_institution):  # noqa: F811
    holder = make_holder("610113")
    hospital = make_institution("610113", name="雁塔区人民医院")
    client = api(clerk)
    created = client.post(
        "/api/v1/applications/",
        {"document_number": holder.document_number, "channel": "kiosk", "service_point": hospital.code},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "approved" and body["service_point_name"] == "雁塔区人民医院"
    assert body["holder_document"] == mask_id_number(holder.document_number)
    unknown = client.post(
        "/api/v1/applications/", {"document_number": make_id_number(), "channel": "counter"}, format="json"
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "holder_not_found"

    pk = body["id"]
    receipt = client.get(f"/api/v1/applications/{pk}/receipt/")
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"
    assert body["number"] in pdf_text(b"".join(receipt.streaming_content))

    refused = client.post(f"/api/v1/applications/{pk}/review/", {"decision": "approve"}, format="json")
    assert refused.status_code == 403
    not_waiting = api(reviewer).post(
        f"/api/v1/applications/{pk}/review/", {"decision": "approve"}, format="json"
    )
    assert not_waiting.status_code == 400 and not_waiting.json()["code"] == "not_reviewable"

    withdrawn = client.post(f"/api/v1/applications/{pk}/withdraw/", {"reason": "本人放弃"}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    again = client.post(f"/api/v1/applications/{pk}/withdraw/", {"reason": "再次"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    assert again.json()["detail"]["current"] == "withdrawn"

    export = client.get("/api/v1/applications/export/", {"as": "xlsx", "channel": "kiosk"})
    cells = [
        c
        for row in load_workbook(io.BytesIO(b"".join(export.streaming_content))).active.iter_rows(
            values_only=True
        )
        for c in row
    ]
    assert body["number"] in cells and holder.document_number not in cells
    assert mask_id_number(holder.document_number) in cells


@pytest.mark.django_db
def test_api_batches_create_list_and_review_all(
    clerk,
    reviewer,
    province_reviewer,
    make_holder,
    make_institution,  # noqa: F811
):
    school = make_institution("610113", name="雁塔区某小学卫生室")
    created = api(clerk).post(
        "/api/v1/application-batches/", {"title": "某小学2026秋", "service_point": school.code}, format="json"
    )
    assert created.status_code == 201, created.json()
    batch = ApplicationBatch.objects.get(pk=created.json()["id"])
    assert batch.region_id == "610113" and batch.medical_institution == school
    for _ in range(2):
        api(clerk).post(
            "/api/v1/applications/",
            {
                "document_number": make_holder("610113").document_number,
                "channel": "batch",
                "batch": batch.number,
            },
            format="json",
        )
    listed = api(clerk).get("/api/v1/application-batches/", {"waiting_review": "true"}).json()["results"]
    assert [(r["number"], r["application_count"], r["waiting_count"]) for r in listed] == [
        (batch.number, 2, 2)
    ]
    assert api(clerk).post(f"/api/v1/application-batches/{batch.pk}/review/").status_code == 403
    city = api(reviewer).post(f"/api/v1/application-batches/{batch.pk}/review/", format="json").json()
    assert city == {"done": 2, "failed": []}
    province = api(province_reviewer).post(f"/api/v1/application-batches/{batch.pk}/review/").json()
    assert province["done"] == 2
    assert set(batch.applications.values_list("status", flat=True)) == {"approved"}


# --- Scope -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_clerk_of_another_city_cannot_touch_xian_applications(
    client, baoji, approved_application, batch_of
):
    xian = approved_application("610113")
    batch = batch_of(1)
    waiting = batch.applications.get()

    client.force_login(baoji)
    assert list(client.get("/admin/cards/application/").context["cl"].result_list) == []
    assert client.get(f"/admin/cards/application/{xian.pk}/change/").status_code in (302, 404)
    for path in ("receipt", "review", "withdraw"):
        assert client.get(f"/admin/cards/application/{xian.pk}/{path}/").status_code == 404
    client.post(
        "/admin/cards/application/",
        {"action": "withdraw_selected", "_selected_action": [xian.pk], "apply_reason": "1", "reason": "越权"},
    )
    assert Application.objects.get(pk=xian.pk).status == ApplicationStatus.APPROVED
    assert client.get(f"/admin/cards/applicationbatch/{batch.pk}/approve/").status_code == 404

    other = api(baoji)
    assert other.get("/api/v1/applications/").json()["results"] == []
    assert other.get(f"/api/v1/applications/{xian.pk}/").status_code == 404
    assert other.get(f"/api/v1/applications/{xian.pk}/receipt/").status_code == 404
    assert (
        other.post(f"/api/v1/applications/{xian.pk}/withdraw/", {"reason": "x"}, format="json").status_code
        == 404
    )
    assert (
        other.post(
            f"/api/v1/applications/{waiting.pk}/review/", {"decision": "approve"}, format="json"
        ).status_code
        == 404
    )
    assert other.post(f"/api/v1/application-batches/{batch.pk}/review/").status_code == 404
    assert other.get("/api/v1/applications/export/", {"as": "xlsx"}).status_code == 200
    # And the action itself refuses, whatever screen calls it.
    with pytest.raises(DomainError) as caught:
        actions.application_review(actor=Actor.for_user(baoji), application=waiting, decision="approve")
    assert caught.value.code == "out_of_scope"
    assert Application.objects.get(pk=waiting.pk).status == ApplicationStatus.SUBMITTED


@pytest.mark.django_db
def test_a_child_needs_a_guardian_in_the_api_too(clerk, make_holder):
    today = dt.date.today()
    child = make_holder(born=today.replace(year=today.year - 2) - dt.timedelta(days=5))
    client = api(clerk)
    refused = client.post(
        "/api/v1/applications/",
        {"document_number": child.document_number, "channel": "counter"},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["code"] == "guardian_required"
    ok = client.post(
        "/api/v1/applications/",
        {
            "document_number": child.document_number,
            "channel": "counter",
            "applicant_kind": "guardian",
            "guardian_name": "王大明",
            "guardian_document_type": "01",
            "guardian_document_number": make_id_number(born=dt.date(1990, 1, 1)),
            "guardian_relation": "3",
        },
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["guardian_name"] == "王**"
