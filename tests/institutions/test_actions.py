"""The three registers: register, modify, deregister, reinstate — validated, audited, journaled."""

import pytest

from institutions import actions
from institutions.models import CardMaker, MedicalInstitution
from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import AuditEntry, JournalEntry, Region

from .conftest import make_uscc


@pytest.mark.django_db
def test_register_validates_the_code_and_journals(make_institution):
    hospital = make_institution("610113", name="西安市雁塔区人民医院", phone="029-85200000")
    assert hospital.status == "active" and hospital.region_id == "610113"
    row = JournalEntry.objects.get(kind="institutions.medical")
    assert (
        row.key == hospital.code
        and row.payload["name"] == "西安市雁塔区人民医院"
        and row.payload["region"] == "610113"
    )
    assert AuditEntry.objects.filter(action="medicalinstitution.register", region_code="610113").exists()


@pytest.mark.django_db
def test_bad_code_missing_name_wrong_level_duplicate(system_actor, make_institution):
    yanta = Region.objects.get(code="610113")
    good = make_uscc()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    cases = [
        ({"code": bad, "name": "x", "region": yanta}, "invalid_uscc"),
        ({"code": make_uscc(), "name": " ", "region": yanta}, "name_required"),
        (
            {"code": make_uscc(), "name": "x", "region": Region.objects.get(code="610100")},
            "institution_region_level",
        ),
    ]
    for kwargs, code in cases:
        with pytest.raises(DomainError) as caught:
            actions.organisation_register(
                actor=system_actor,
                model=MedicalInstitution,
                nature="public",
                category="general_hospital",
                **kwargs,
            )
        assert caught.value.code == code
        assert caught.value.message_zh and caught.value.message_en
    existing = make_institution("610113")
    with pytest.raises(DomainError) as caught:
        actions.organisation_register(
            actor=system_actor,
            model=MedicalInstitution,
            code=existing.code,
            name="y",
            region=yanta,
            nature="public",
            category="general_hospital",
        )
    assert caught.value.code == "duplicate_code"


@pytest.mark.django_db
def test_card_makers_and_banks_may_sit_in_a_city(card_maker, bank):
    assert card_maker.region_id == "610100" and bank.region_id == "610100"
    assert JournalEntry.objects.filter(kind="institutions.cardmaker", key=card_maker.code).exists()
    assert JournalEntry.objects.filter(kind="institutions.financial", key=bank.code).exists()


@pytest.mark.django_db
def test_modify_keeps_old_and_new_and_deregister_keeps_history(make_institution, system_actor):
    hospital = make_institution("610113", phone="029-1")
    actions.organisation_update(actor=system_actor, obj=hospital, phone="029-2", grade="3b")
    audit = AuditEntry.objects.get(action="medicalinstitution.update")
    assert audit.changes == {"phone": ["029-1", "029-2"], "grade": ["3a", "3b"]}
    actions.organisation_deregister(actor=system_actor, obj=hospital, reason="撤销")
    hospital.refresh_from_db()
    assert hospital.status == "deregistered" and hospital.status_reason == "撤销"
    with pytest.raises(IllegalTransition):
        actions.organisation_deregister(actor=system_actor, obj=hospital, reason="again")
    actions.organisation_reinstate(actor=system_actor, obj=hospital, reason="恢复执业")
    hospital.refresh_from_db()
    assert hospital.status == "active"
    assert list(JournalEntry.objects.filter(key=hospital.code).values_list("payload__status", flat=True)) == [
        "active",
        "active",
        "deregistered",
        "active",
    ]


@pytest.mark.django_db
def test_the_code_cannot_be_changed(make_institution, system_actor):
    hospital = make_institution("610113")
    with pytest.raises(DomainError):
        actions.organisation_update(actor=system_actor, obj=hospital, code=make_uscc())


@pytest.mark.django_db
def test_card_maker_register(system_actor):
    maker = actions.organisation_register(
        actor=system_actor,
        model=CardMaker,
        code=make_uscc("610100", "91"),
        name="卡厂",
        region=Region.objects.get(code="610100"),
        licence_number="L-1",
    )
    assert maker.licence_number == "L-1"


@pytest.mark.django_db
def test_a_card_maker_without_a_filed_product_is_flagged(
    card_maker, make_user, settings, client, monkeypatch
):
    from institutions import selectors

    settings.HC_REGION = "610100"
    user = make_user("m", roles=["系统管理员"], scope="610100")
    assert selectors.card_makers_without_filed_product(user=user) == [card_maker]
    client.force_login(user)
    assert "⚠" in client.get("/admin/institutions/cardmaker/").content.decode()
    monkeypatch.setitem(selectors.FILING_CHECK, "check", lambda maker: True)  # a maker with a valid filing
    assert selectors.card_makers_without_filed_product(user=user) == []
    assert selectors.card_maker_work(maker=card_maker) == {
        "planned": 0,
        "produced": 0,
        "failed": 0,
        "success_rate": None,
    }
