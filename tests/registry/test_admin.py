"""The browser admin: Chinese, region pickers that autocomplete, writes through actions, reasons required."""

import pytest

from registry.models import AuditEntry, RegistrationCentre


@pytest.fixture
def superuser(make_user, settings):
    settings.HC_REGION = "610000"
    return make_user("root", roles=["系统管理员"], scope="610000", is_superuser=True)


@pytest.mark.django_db
def test_admin_renders_in_chinese(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/").content.decode()
    assert "注册管理中心" in page
    assert "行政区划" in page
    assert "居民健康卡" in page
    client.logout()  # Django's own strings are Chinese too
    assert "用户名" in client.get("/admin/login/").content.decode()


@pytest.mark.django_db
def test_region_picker_autocompletes_instead_of_listing_three_thousand_options(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/registry/registrationcentre/add/").content.decode()
    assert "admin-autocomplete" in page
    assert 'value="610113"' not in page
    found = client.get(
        "/admin/autocomplete/",
        {"term": "雁塔", "app_label": "registry", "model_name": "registrationcentre", "field_name": "region"},
    ).json()
    assert any(item["id"] == "610113" for item in found["results"])


@pytest.mark.django_db
def test_adding_a_centre_in_the_admin_goes_through_the_action(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/registry/registrationcentre/add/",
        {
            "region": "610400",
            "name": "咸阳市居民健康卡注册管理中心",
            "head": "赵主任",
            "contact_person": "钱工",
            "phone": "029-33330000",
            "address": "咸阳市秦都区",
            "base_url": "",
            "public_key": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    centre = RegistrationCentre.objects.get(region_id="610400")
    assert centre.tier == "city"
    assert AuditEntry.objects.filter(
        action="centre.register", object_key=str(centre.pk), channel="web"
    ).exists()


@pytest.mark.django_db
def test_deregister_action_asks_for_a_reason_then_keeps_the_record(client, superuser, make_centre):
    centre = make_centre("610200")
    client.force_login(superuser)
    url = "/admin/registry/registrationcentre/"
    ask = client.post(url, {"action": "deregister_selected", "_selected_action": [centre.pk]})
    assert ask.status_code == 200 and "原因" in ask.content.decode()
    done = client.post(
        url,
        {
            "action": "deregister_selected",
            "_selected_action": [centre.pk],
            "apply_reason": "1",
            "reason": "行政区划调整",
        },
    )
    assert done.status_code == 302
    centre.refresh_from_db()
    assert centre.status == "deregistered" and centre.status_reason == "行政区划调整"
    page = client.get(f"/admin/registry/registrationcentre/{centre.pk}/change/").content.decode()
    assert "centre.deregister" in page and "行政区划调整" in page  # the history panel


@pytest.mark.django_db
def test_nothing_is_ever_deleted_from_the_register(client, superuser, make_centre):
    centre = make_centre("610200")
    client.force_login(superuser)
    assert client.get(f"/admin/registry/registrationcentre/{centre.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_user_admin_masks_personal_data(client, superuser, make_user):
    clerk = make_user(
        "clerk", scope="610100", real_name="王小明", id_number="61010219900307123X", phone="13812345678"
    )
    client.force_login(superuser)
    page = client.get(f"/admin/registry/user/{clerk.pk}/change/").content.decode()
    assert "610102**********123X" in page and "138****5678" in page and "王**" in page
    assert "61010219900307123X" not in page and "13812345678" not in page and "王小明" not in page


@pytest.mark.django_db
def test_unmasking_needs_the_permission_and_is_audited(client, superuser, make_user):
    clerk = make_user("clerk", scope="610000", real_name="王小明", id_number="61010219900307123X")
    viewer = make_user("viewer", roles=["只读用户"], scope="610000")
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    assert client.get(f"/admin/registry/user/{clerk.pk}/reveal/").status_code == 403
    assert not AuditEntry.objects.filter(action="personal_data.reveal").exists()

    client.force_login(superuser)
    page = client.get(f"/admin/registry/user/{clerk.pk}/reveal/").content.decode()
    assert "61010219900307123X" in page and "王小明" in page
    audit = AuditEntry.objects.get(action="personal_data.reveal")
    assert audit.user == superuser and audit.object_key == str(clerk.pk)


@pytest.mark.django_db
def test_an_english_browser_still_gets_chinese_unless_english_is_chosen(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "注册管理中心" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    assert "Registration centres" in client.get("/admin/").content.decode()
