"""Region scope: a city user sees only its city's rows, in the admin list, the API list and exports."""

import io

import pytest
from openpyxl import load_workbook

from registry.models import RegistrationCentre
from registry.scope import scope_queryset, user_scope_prefix

PEERS = ["100000", "610000", "610100", "610200", "610300", "620100"]


@pytest.fixture
def centres(make_centre):
    return {code: make_centre(code) for code in PEERS}


@pytest.fixture
def city_admin(make_user):
    return make_user("xian_admin", roles=["系统管理员"], scope="610100")


@pytest.fixture
def province_admin(make_user):
    return make_user("shaanxi_admin", roles=["系统管理员"], scope="610000")


@pytest.mark.django_db
def test_scope_prefix_follows_the_region_tree(city_admin, province_admin, make_user, settings):
    settings.HC_REGION = "100000"
    assert user_scope_prefix(city_admin) == "6101"
    assert user_scope_prefix(province_admin) == "61"
    assert user_scope_prefix(make_user("nobody", roles=["只读用户"])) is None


@pytest.mark.django_db
def test_a_scope_wider_than_the_node_is_clamped_to_the_node(make_user, settings):
    settings.HC_REGION = "610100"
    assert user_scope_prefix(make_user("wide", scope="610000")) == "6101"
    assert user_scope_prefix(make_user("elsewhere", scope="620100")) is None


@pytest.mark.django_db
def test_selector_scope(centres, city_admin, province_admin, settings):
    settings.HC_REGION = "100000"
    assert {c.region_id for c in scope_queryset(RegistrationCentre.objects.all(), city_admin)} == {"610100"}
    assert {c.region_id for c in scope_queryset(RegistrationCentre.objects.all(), province_admin)} == {
        "610000",
        "610100",
        "610200",
        "610300",
    }


@pytest.mark.django_db
def test_admin_list_shows_only_the_city(client, centres, city_admin, settings):
    settings.HC_REGION = "100000"
    client.force_login(city_admin)
    response = client.get("/admin/registry/registrationcentre/")
    assert response.status_code == 200
    shown = {obj.region_id for obj in response.context["cl"].result_list}
    assert shown == {"610100"}
    other = centres["610200"]
    assert client.get(f"/admin/registry/registrationcentre/{other.pk}/change/").status_code in (302, 404)


@pytest.mark.django_db
def test_api_list_shows_only_the_city(client, centres, city_admin, settings):
    settings.HC_REGION = "100000"
    client.force_login(city_admin)
    response = client.get("/api/v1/centres/")
    assert response.status_code == 200
    assert {row["region"] for row in response.json()["results"]} == {"610100"}
    assert client.get(f"/api/v1/centres/{centres['620100'].pk}/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/admin/registry/registrationcentre/export/xlsx/", "/api/v1/centres/export/?as=xlsx"]
)
def test_exports_hold_only_the_city(client, centres, city_admin, settings, path):
    settings.HC_REGION = "100000"
    client.force_login(city_admin)
    response = client.get(path)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    codes = {
        row[0]
        for row in sheet.iter_rows(min_row=6, values_only=True)
        if row and row[0] and str(row[0]).isdigit()
    }
    assert codes == {"610100"}
