"""One test per filter of the combined queries."""

import pytest

from institutions.filtersets import (
    ApiCredentialFilterSet,
    CardMakerFilterSet,
    FinancialInstitutionFilterSet,
    MedicalInstitutionFilterSet,
)
from institutions.models import ApiCredential, CardMaker, FinancialInstitution, MedicalInstitution


@pytest.fixture
def hospitals(make_institution, system_actor):
    from institutions.actions import organisation_deregister

    made = {
        "yanta": make_institution(
            "610113",
            name="雁塔区人民医院",
            nature="public",
            category="general_hospital",
            grade="2a",
            licence_number="PDY-001",
        ),
        "beilin": make_institution(
            "610103", name="碑林区中医医院", nature="public", category="tcm_hospital", grade="2b"
        ),
        "clinic": make_institution(
            "610113", name="雁塔区某某诊所", nature="private", category="outpatient", grade="unrated"
        ),
        "baoji": make_institution(
            "610302", name="宝鸡市渭滨区妇幼保健院", nature="public", category="maternal_child"
        ),
        "lanzhou": make_institution(
            "620102", name="兰州市城关区医院", nature="public", category="general_hospital"
        ),
    }
    organisation_deregister(actor=system_actor, obj=made["clinic"], reason="停业")
    return made


def names(filterset_class, params, model=MedicalInstitution):
    return sorted(filterset_class(params, queryset=model.objects.all()).qs.values_list("name", flat=True))


@pytest.mark.django_db
def test_name(hospitals):
    assert names(MedicalInstitutionFilterSet, {"name": "雁塔"}) == ["雁塔区人民医院", "雁塔区某某诊所"]


@pytest.mark.django_db
def test_code(hospitals):
    assert names(MedicalInstitutionFilterSet, {"code": hospitals["beilin"].code}) == ["碑林区中医医院"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("610000", ["宝鸡市渭滨区妇幼保健院", "碑林区中医医院", "雁塔区人民医院", "雁塔区某某诊所"]),
        ("610100", ["碑林区中医医院", "雁塔区人民医院", "雁塔区某某诊所"]),
        ("610113", ["雁塔区人民医院", "雁塔区某某诊所"]),
    ],
)
def test_region_at_any_level(hospitals, region, expected):
    assert names(MedicalInstitutionFilterSet, {"region": region}) == expected


@pytest.mark.django_db
def test_nature(hospitals):
    assert names(MedicalInstitutionFilterSet, {"nature": "private"}) == ["雁塔区某某诊所"]


@pytest.mark.django_db
def test_category(hospitals):
    assert names(MedicalInstitutionFilterSet, {"category": "tcm_hospital"}) == ["碑林区中医医院"]


@pytest.mark.django_db
def test_grade(hospitals):
    assert names(MedicalInstitutionFilterSet, {"grade": "2a"}) == ["雁塔区人民医院"]


@pytest.mark.django_db
def test_status(hospitals):
    assert names(MedicalInstitutionFilterSet, {"status": "deregistered"}) == ["雁塔区某某诊所"]


@pytest.mark.django_db
def test_licence_number(hospitals):
    assert names(MedicalInstitutionFilterSet, {"licence_number": "PDY-001"}) == ["雁塔区人民医院"]


@pytest.mark.django_db
def test_registration_date_range(hospitals):
    from django.utils import timezone

    today = timezone.localdate().isoformat()
    assert len(names(MedicalInstitutionFilterSet, {"registered_from": today, "registered_to": today})) == 5
    assert names(MedicalInstitutionFilterSet, {"registered_to": "2000-01-01"}) == []


@pytest.mark.django_db
def test_combined(hospitals):
    assert names(
        MedicalInstitutionFilterSet, {"region": "610100", "nature": "public", "status": "active"}
    ) == [
        "碑林区中医医院",
        "雁塔区人民医院",
    ]


@pytest.mark.django_db
def test_card_maker_and_bank_filters(card_maker, bank, make_institution):
    make_institution("620100", model=CardMaker, name="甘肃卡厂")
    assert names(CardMakerFilterSet, {"region": "610000"}, CardMaker) == ["陕西某某智能卡有限公司"]
    assert names(CardMakerFilterSet, {"name": "甘肃"}, CardMaker) == ["甘肃卡厂"]
    assert names(FinancialInstitutionFilterSet, {"kind": "bank", "region": "6101"}, FinancialInstitution) == [
        "某某银行西安分行"
    ]


@pytest.mark.django_db
def test_credential_filters(hospitals, system_actor):
    from institutions.actions import credential_issue, credential_revoke

    yanta_key, _ = credential_issue(actor=system_actor, institution=hospitals["yanta"])
    baoji_key, _ = credential_issue(actor=system_actor, institution=hospitals["baoji"], valid_days=10)
    credential_revoke(actor=system_actor, credential=yanta_key, reason="泄露")

    def keys(params):
        filterset = ApiCredentialFilterSet(params, queryset=ApiCredential.objects.all())
        return sorted(filterset.qs.values_list("key_id", flat=True))

    assert keys({"status": "revoked"}) == [yanta_key.key_id]
    assert keys({"region": "610300"}) == [baoji_key.key_id]
    assert keys({"institution_code": hospitals["yanta"].code}) == [yanta_key.key_id]
    from django.utils import timezone

    soon = (timezone.localdate() + timezone.timedelta(days=30)).isoformat()
    assert keys({"expires_before": soon}) == [baoji_key.key_id]
