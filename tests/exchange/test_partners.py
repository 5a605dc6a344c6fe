"""The bank interface (applications, status changes) and the regional platform's bulk uploads."""

import pytest

from cards.models import Resident
from institutions.models import MedicalInstitution
from registry.protection import blind_index
from tests.exchange.conftest import make_id_number
from tests.institutions.conftest import make_uscc


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()


def test_a_bank_applies_and_reads_the_status_changes(bank_api, make_holder):
    holder = make_holder()
    response = bank_api.post("/api/v1/bank/applications", {"id_number": holder.document_number})
    assert response.status_code == 201, response.json()
    number = response.json()["number"]
    assert response.json()["channel"] == "bank"
    changes = bank_api.get("/api/v1/bank/status-changes?since=0").json()
    mine = [change for change in changes["changes"] if change["application_number"] == number]
    assert mine and mine[0]["kind"] == "applied" and changes["more"] is False
    later = bank_api.get(f"/api/v1/bank/status-changes?since={changes['next_since']}").json()
    assert later["changes"] == [] and later["next_since"] == changes["next_since"]


def test_bank_interfaces_are_for_banks_only(api, bank_api, make_holder):
    holder = make_holder()
    refused = api.post("/api/v1/bank/applications", {"id_number": holder.document_number})
    assert refused.status_code == 403 and refused.json()["code"] == "institution_type_refused"
    assert api.get("/api/v1/bank/status-changes").status_code == 403
    unknown = bank_api.post("/api/v1/bank/applications", {"id_number": make_id_number()})
    assert unknown.status_code == 404 and unknown.json()["code"] == "holder_unknown_here"


def test_a_bank_sees_only_its_own_changes(bank_api, make_holder, make_institution, client, system_actor):
    from institutions import actions
    from institutions.models import FinancialInstitution
    from tests.exchange.conftest import SignedClient

    holder = make_holder()
    bank_api.post("/api/v1/bank/applications", {"id_number": holder.document_number})
    other = make_institution("610100", model=FinancialInstitution, name="另一银行", kind="bank")
    credential, secret = actions.credential_issue(actor=system_actor, institution=other)
    other_api = SignedClient(client, credential.key_id, secret)
    assert other_api.get("/api/v1/bank/status-changes?since=0").json()["changes"] == []


def _csv(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(row) for row in rows).encode()


@pytest.fixture
def platform(api, settings, hospital):
    settings.HC_REGIONAL_PLATFORMS = [hospital.code]
    return api


def test_the_regional_platform_uploads_holders(platform):
    number = make_id_number()
    body = _csv([["name", "document_number"], ["赵六", number]])
    check = platform.call("POST", "/api/v1/regional/imports/holders", raw=body, content_type="text/csv")
    assert check.status_code == 200, check.json()
    assert check.json()["committed"] is False and check.json()["valid"] == 1
    assert not Resident.objects.filter(document_index=blind_index(number, family="id_number")).exists()
    done = platform.call("POST", "/api/v1/regional/imports/holders?commit=1", raw=body)
    assert done.json()["committed"] is True and done.json()["created"] == 1
    assert Resident.objects.filter(document_index=blind_index(number, family="id_number")).exists()


def test_the_regional_platform_uploads_institutions_and_sees_masked_errors(platform):
    code = make_uscc("610113")
    body = _csv(
        [
            ["name", "code", "nature", "category", "region"],
            ["雁塔区某卫生院", code, "public", "general_hospital", "610113"],
        ]
    )
    done = platform.call("POST", "/api/v1/regional/imports/institutions?commit=1", raw=body)
    assert done.status_code == 200, done.json()
    assert MedicalInstitution.objects.filter(code=code).exists()
    bad = platform.call(
        "POST",
        "/api/v1/regional/imports/holders",
        raw=_csv([["name", "document_number"], ["钱七", "610113198506150000"]]),
    )
    errors = bad.json()["errors"]
    assert bad.json()["invalid_rows"] == 1 and errors and "610113198506150000" not in bad.content.decode()


def test_only_the_regional_platform_uploads(api):
    refused = api.call("POST", "/api/v1/regional/imports/holders", raw=b"name,document_number\n")
    assert refused.status_code == 403 and refused.json()["code"] == "institution_type_refused"
