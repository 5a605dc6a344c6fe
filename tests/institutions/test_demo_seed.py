"""The demo seed of the institutions app: a believable city, and a hospital key a person can try at once."""

import json

import pytest

from institutions import demo
from institutions.models import ApiCredential, CardMaker, FinancialInstitution, MedicalInstitution


@pytest.mark.django_db
def test_city_seed_is_realistic_idempotent_and_prints_a_working_key(settings, tmp_path, system_actor, client):
    settings.HC_TIER, settings.HC_REGION, settings.HC_VAR_DIR = "city", "610100", tmp_path
    demo.seed(actor=system_actor, stdout=None)
    counts = (
        MedicalInstitution.objects.count(),
        CardMaker.objects.count(),
        FinancialInstitution.objects.count(),
    )
    assert counts[0] >= 200 and counts[1:] == (2, 3)
    counties = set(MedicalInstitution.objects.values_list("region_id", flat=True))
    assert len(counties) >= 12 and all(code.startswith("6101") for code in counties)
    assert MedicalInstitution.objects.filter(category="village_clinic").exists()

    demo.seed(actor=system_actor, stdout=None)
    assert (MedicalInstitution.objects.count(), CardMaker.objects.count(), ApiCredential.objects.count()) == (
        counts[0],
        2,
        1,
    )

    key = json.loads((tmp_path / "demo_hospital_key.json").read_text(encoding="utf-8"))
    from institutions.signing import signed_headers

    headers = signed_headers(
        key_id=key["key_id"], secret=key["secret"], method="GET", path_with_query="/api/v1/hospital/whoami"
    )
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    assert client.get("/api/v1/hospital/whoami", **meta).json()["name"] == "西安交通大学第一附属医院"
