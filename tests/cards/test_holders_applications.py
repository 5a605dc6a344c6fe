"""Holders and applications: validation against the ID number, eligibility, the review chain."""

import datetime as dt

import pytest
from django.db import connection

from cards import actions
from cards.choices import ApplicantKind, ApplicationChannel, ApplicationStatus
from cards.models import CardEvent, Resident
from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import JournalEntry, Region
from registry.protection import blind_lookup

from .conftest import make_id_number


@pytest.mark.django_db
def test_the_id_number_decides_birth_date_sex_and_region(make_holder):
    holder = make_holder(
        "610113",
        born=dt.date(1990, 3, 7),
        male=False,
        name="李小红",
        phone1="13912345678",
        contacts=[{"name": "李大红", "relation": "3", "phone": "13800000000"}],
    )
    assert holder.birth_date == dt.date(1990, 3, 7) and holder.sex == "2" and holder.region_id == "610113"
    assert Resident.objects.get(**blind_lookup(Resident, "document_number", holder.document_number)) == holder
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, document_number, phone1, contacts FROM cards_resident WHERE id=%s", [holder.pk]
        )
        raw = " ".join(cursor.fetchone())
    assert "李" not in raw and holder.document_number[6:14] not in raw and "13912345678" not in raw
    assert Resident.objects.get(pk=holder.pk).contacts[0]["name"] == "李大红"
    assert CardEvent.objects.filter(resident=holder, kind="holder_registered").exists()
    payload = JournalEntry.objects.get(kind="cards.holder").payload
    assert "sealed" in payload["name"] and payload["sex"] == "2"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda n: n[:-1] + ("0" if n[-1] != "0" else "1"), "id_checksum"),
        (lambda n: n[:-2], "id_length"),
        (lambda n: n[:6] + "19991332" + n[14:17] + "0", "id_component"),
    ],
)
def test_bad_id_numbers_are_refused_with_a_clear_code(system_actor, change, code):
    number = change(make_id_number())
    if code == "id_component":
        from stdnum.cn import ric

        number = number[:17] + ric.calc_check_digit(number)
    with pytest.raises(DomainError) as caught:
        actions.holder_register(actor=system_actor, document_number=number, name="张三")
    assert caught.value.code == code and caught.value.detail == {"field": "document_number"}


@pytest.mark.django_db
def test_birth_date_and_sex_must_match_the_id_number(system_actor):
    number = make_id_number(born=dt.date(1985, 6, 15), male=True)
    with pytest.raises(DomainError) as caught:
        actions.holder_register(
            actor=system_actor, document_number=number, name="张三", birth_date=dt.date(1985, 6, 16)
        )
    assert caught.value.code == "birth_date_mismatch"
    with pytest.raises(DomainError) as caught:
        actions.holder_register(actor=system_actor, document_number=number, name="张三", sex="2")
    assert caught.value.code == "sex_mismatch" and "男" in caught.value.message_zh


@pytest.mark.django_db
def test_a_passport_holder_needs_region_birth_date_and_sex(system_actor):
    holder = actions.holder_register(
        actor=system_actor,
        document_type="03",
        document_number="E12345678",
        name="JOHN",
        sex="1",
        birth_date=dt.date(1980, 1, 1),
        region=Region.objects.get(code="610113"),
    )
    assert holder.document_type == "03"


@pytest.mark.django_db
def test_a_clerk_cannot_register_a_holder_in_another_city(make_user, settings):
    from registry.actors import Actor

    settings.HC_REGION = "610000"
    clerk = make_user("xian", roles=["发卡操作员"], scope="610100")
    with pytest.raises(DomainError) as caught:
        actions.holder_register(
            actor=Actor.for_user(clerk), document_number=make_id_number("610302"), name="张三"
        )
    assert caught.value.code == "out_of_scope"


@pytest.mark.django_db
def test_counter_applications_are_approved_on_submission_and_duplicates_refused(make_holder, system_actor):
    holder = make_holder()
    application = actions.application_submit(
        actor=system_actor, resident=holder, channel=ApplicationChannel.COUNTER
    )
    assert application.status == ApplicationStatus.APPROVED
    with pytest.raises(DomainError) as caught:
        actions.application_submit(actor=system_actor, resident=holder, channel=ApplicationChannel.KIOSK)
    assert caught.value.code == "open_application"


@pytest.mark.django_db
def test_a_child_needs_a_guardian(make_holder, system_actor):
    child = make_holder(born=dt.date.today().replace(year=dt.date.today().year - 3) - dt.timedelta(days=10))
    with pytest.raises(DomainError) as caught:
        actions.application_submit(actor=system_actor, resident=child, channel=ApplicationChannel.COUNTER)
    assert caught.value.code == "guardian_required"
    application = actions.application_submit(
        actor=system_actor,
        resident=child,
        channel=ApplicationChannel.COUNTER,
        applicant_kind=ApplicantKind.GUARDIAN,
        guardian_name="王大明",
        guardian_document_type="01",
        guardian_document_number=make_id_number(),
        guardian_relation="3",
    )
    assert application.guardian_name == "王大明"


@pytest.mark.django_db
def test_batch_review_goes_city_then_province(make_holder, make_user, settings):
    from registry.actors import Actor

    settings.HC_REGION = "610000"
    city = Actor.for_user(make_user("city_reviewer", roles=["审核员"], scope="610100"))
    province = Actor.for_user(make_user("province_reviewer", roles=["审核员"], scope="610000"))
    batch = actions.batch_create(
        actor=province, title="雁塔区某小学", region=Region.objects.get(code="610113")
    )
    application = actions.application_submit(
        actor=province, resident=make_holder(), channel="batch", batch=batch
    )
    assert application.status == ApplicationStatus.SUBMITTED

    application = actions.application_review(actor=city, application=application, decision="approve")
    assert application.status == ApplicationStatus.CITY_APPROVED
    with pytest.raises(DomainError) as caught:
        actions.application_review(actor=city, application=application, decision="approve")
    assert caught.value.code == "wrong_review_tier"
    application = actions.application_review(actor=province, application=application, decision="approve")
    assert application.status == ApplicationStatus.APPROVED
    assert [r.level for r in application.reviews.all()] == ["city", "province"]
    with pytest.raises(DomainError) as caught:
        actions.application_review(actor=province, application=application, decision="approve")
    assert caught.value.code == "not_reviewable"


@pytest.mark.django_db
def test_a_rejection_needs_a_reason_and_is_final(make_holder, make_user, system_actor, settings):
    settings.HC_REGION = "610000"
    batch = actions.batch_create(actor=system_actor, title="某村", region=Region.objects.get(code="610113"))
    application = actions.application_submit(
        actor=system_actor, resident=make_holder(), channel="batch", batch=batch
    )
    with pytest.raises(DomainError):
        actions.application_review(actor=system_actor, application=application, decision="reject")
    application = actions.application_review(
        actor=system_actor, application=application, decision="reject", reason="资料不全"
    )
    with pytest.raises(IllegalTransition) as caught:
        actions.application_withdraw(actor=system_actor, application=application, reason="x")
    assert caught.value.current == "rejected" and caught.value.allowed == []
