"""The holder admin: manual entry checked next to each field, masked list/detail/export, exact search through the
blind index, the audited unmasked view (调阅), the case history, and a city clerk's region."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import translation
from openpyxl import load_workbook

from cards.choices import ApplicationChannel, CardEventKind
from cards.models import CardEvent, Resident
from registry.models import AuditEntry, Region

from .conftest import make_id_number


@pytest.fixture(autouse=True)
def province_node(settings):
    settings.HC_REGION = "610000"


@pytest.fixture
def manager(make_user):
    """A card manager of Xi'an: may enter and change holders and see them unmasked."""
    return make_user("xian_manager", roles=["卡管理员"], scope="610100")


@pytest.fixture
def clerk(make_user):
    """An issuing clerk of Xi'an: enters and changes holders, but has no unmasked view."""
    return make_user("xian_clerk", roles=["发卡操作员"], scope="610100")


@pytest.fixture
def holders(make_holder):
    return {
        "xian": make_holder(
            "610113",
            name="王小明",
            phone1="13912345678",
            address1="西安市雁塔区小寨东路1号",
            contacts=[{"name": "王大明", "relation": "3", "phone": "13800000000"}],
        ),
        "baoji": make_holder("610302", name="宝鸡人"),
    }


def entry(number: str, **overrides) -> dict:
    data = {
        "document_type": "01",
        "document_number": number,
        "name": "张三丰",
        "sex": "",
        "birth_date": "",
        "region": "",
        "ethnicity": "01",
        "address1_type": "",
        "address1": "",
        "address2_type": "",
        "address2": "",
        "phone1": "",
        "phone2": "",
        "education": "",
        "marital_status": "",
        "occupation": "",
        "health_record_no": "",
        "rural_coop_no": "",
        **{f"contact{n}_{part}": "" for n in (1, 2, 3) for part in ("name", "relation", "phone")},
    }
    data.update(overrides)
    return data


def form_errors(response) -> dict:
    return {field: list(errors) for field, errors in response.context["adminform"].form.errors.items()}


ADD = "/admin/cards/resident/add/"


@pytest.mark.django_db
def test_manual_entry_shows_each_problem_next_to_its_field(client, clerk, holders):
    client.force_login(clerk)
    number = make_id_number("610113", dt.date(1990, 5, 6), male=True)
    cases = [
        (entry(number[:-1] + ("0" if number[-1] != "0" else "1")), "document_number"),
        (entry(number[:-2]), "document_number"),
        (entry(number, birth_date="1990-05-07"), "birth_date"),
        (entry(number, sex="2"), "sex"),
        (entry(number, name="  "), "name"),
        (entry(number, region="610302"), "region"),  # Baoji: outside a Xi'an clerk's region
        (entry(holders["xian"].document_number), "document_number"),  # registered already
        (entry(number, region="610100"), "region"),  # a city, not a county
        (entry(number, contact1_name="李四", contact1_relation="7"), "contact1_relation"),
    ]
    for data, field in cases:
        response = client.post(ADD, data)
        assert response.status_code == 200, (field, response)
        errors = form_errors(response)
        assert list(errors) == [field], (data, errors)
        assert errors[field][0]  # a message, in the catalog's language
    sex_error = form_errors(client.post(ADD, entry(number, sex="2")))["sex"][0]
    assert "男" in sex_error or "Male" in sex_error  # names what the ID number says
    assert Resident.objects.count() == 2


@pytest.mark.django_db
def test_manual_entry_registers_through_the_action(client, clerk):
    client.force_login(clerk)
    number = make_id_number("610116", dt.date(2012, 2, 29), male=False)
    response = client.post(
        ADD,
        entry(
            number.lower(),
            name="刘晓",
            phone1="13700000001",
            contact1_name="刘母",
            contact1_relation="3",
            contact1_phone="13700000002",
        ),
    )
    assert response.status_code == 302, form_errors(response)
    holder = Resident.objects.get()
    assert (holder.document_number, holder.sex, holder.birth_date, holder.region_id) == (
        number.upper(),
        "2",
        dt.date(2012, 2, 29),
        "610116",
    )
    assert holder.contacts == [{"name": "刘母", "relation": "3", "phone": "13700000002"}]
    assert CardEvent.objects.filter(resident=holder, kind="holder_registered").exists()
    assert AuditEntry.objects.filter(action="holder.register", object_key=str(holder.pk)).exists()


@pytest.mark.django_db
def test_list_detail_and_export_are_masked(client, manager, holders):
    client.force_login(manager)
    xian = holders["xian"]
    masked = xian.document_number[:6] + "*" * 10 + xian.document_number[-4:]
    listing = client.get("/admin/cards/resident/")
    page = listing.content.decode()
    assert masked in page and "王**" in page
    for secret in (xian.document_number, "王小明", "13912345678"):
        assert secret not in page
    detail = client.get(f"/admin/cards/resident/{xian.pk}/change/").content.decode()
    assert masked in detail and "139****5678" in detail and "王**" in detail
    for secret in (xian.document_number, "王小明", "13912345678", "小寨东路1号", "王大明", "13800000000"):
        assert secret not in detail, secret
    content = b"".join(client.get("/admin/cards/resident/export/xlsx/").streaming_content)
    cells = {c for r in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in r}
    assert masked in cells and "王**" in cells and "139****5678" in cells
    assert not {xian.document_number, "王小明", "13912345678"} & cells
    printed = client.get("/admin/cards/resident/export/pdf/")
    assert printed.status_code == 200 and printed["Content-Type"] == "application/pdf"


@pytest.mark.django_db
def test_search_is_an_exact_document_number_through_the_blind_index(client, manager, holders, make_holder):
    other = make_holder("610113", name="另一人")
    client.force_login(manager)
    xian = holders["xian"]
    found = client.get("/admin/cards/resident/", {"q": xian.document_number.lower()})
    assert [r.pk for r in found.context["cl"].result_list] == [xian.pk]
    partial = client.get("/admin/cards/resident/", {"q": xian.document_number[:10]})
    assert list(partial.context["cl"].result_list) == []
    assert client.get("/admin/cards/resident/", {"q": other.document_number}).context["cl"].result_count == 1
    baoji = client.get("/admin/cards/resident/", {"q": holders["baoji"].document_number})
    assert list(baoji.context["cl"].result_list) == []  # another city's holder is not found


@pytest.mark.django_db
def test_the_list_filters_by_sex_ethnicity_document_type_and_region(client, manager, holders, make_holder):
    girl = make_holder("610116", male=False, born=dt.date(2015, 1, 1), name="女孩", ethnicity="03")
    client.force_login(manager)

    def listed(**params):
        return {r.pk for r in client.get("/admin/cards/resident/", params).context["cl"].result_list}

    assert listed() == {holders["xian"].pk, girl.pk}
    assert listed(sex__exact="2") == {girl.pk}
    assert listed(ethnicity__exact="03") == {girl.pk}
    assert listed(document_type__exact="01") == {holders["xian"].pk, girl.pk}
    assert listed(region_tree="610116") == {girl.pk}


@pytest.mark.django_db
def test_reveal_needs_the_permission_and_is_audited(client, manager, clerk, holders):
    xian = holders["xian"]
    url = f"/admin/cards/resident/{xian.pk}/reveal/"
    client.force_login(clerk)
    assert client.post(url, {"reason": "核对"}).status_code == 403
    assert not AuditEntry.objects.filter(action="personal_data.reveal").exists()
    client.force_login(manager)
    detail = client.get(f"/admin/cards/resident/{xian.pk}/change/").content.decode()
    assert url in detail  # the 调阅 button
    confirm = client.get(url)
    assert confirm.status_code == 200 and xian.document_number not in confirm.content.decode()
    assert not AuditEntry.objects.filter(action="personal_data.reveal").exists()  # asking is not looking
    shown = client.post(url, {"reason": "持卡人来电核对"}).content.decode()
    for value in (xian.document_number, "王小明", "13912345678", "小寨东路1号", "王大明"):
        assert value in shown
    audit = AuditEntry.objects.get(action="personal_data.reveal")
    assert (audit.object_key, audit.reason, audit.user) == (str(xian.pk), "持卡人来电核对", manager)
    assert xian.document_number not in str(audit.changes) + audit.object_repr
    assert client.post(f"/admin/cards/resident/{holders['baoji'].pk}/reveal/").status_code == 404


@pytest.mark.django_db
def test_the_change_page_changes_through_the_action_and_keeps_what_is_left_empty(client, clerk, holders):
    xian = holders["xian"]
    client.force_login(clerk)
    data = entry("", region="610116", ethnicity="01", phone1="", address1="", name="")
    for key in ("document_type", "document_number", "sex", "birth_date"):
        data.pop(key)
    data["phone2"] = "029-88881234"
    response = client.post(f"/admin/cards/resident/{xian.pk}/change/", data)
    assert response.status_code == 302, form_errors(response)
    xian.refresh_from_db()
    assert (xian.region_id, xian.phone2) == ("610116", "029-88881234")
    assert (xian.name, xian.phone1, xian.address1) == ("王小明", "13912345678", "西安市雁塔区小寨东路1号")
    assert xian.contacts == [{"name": "王大明", "relation": "3", "phone": "13800000000"}]
    audit = AuditEntry.objects.filter(action="holder.update").latest("at")
    assert sorted(audit.changes["fields"]) == ["phone2", "region"]
    outside = client.post(f"/admin/cards/resident/{xian.pk}/change/", {**data, "region": "610302"})
    assert list(form_errors(outside)) == ["region"]


@pytest.mark.django_db
def test_the_detail_page_shows_the_case_history_newest_last(client, manager, holders, system_actor):
    from cards import actions

    xian = holders["xian"]
    application = actions.application_submit(
        actor=system_actor, resident=xian, channel=ApplicationChannel.COUNTER
    )
    client.force_login(manager)
    page = client.get(f"/admin/cards/resident/{xian.pk}/change/").content.decode()
    history = page[page.index('class="hc-history"') :]
    with translation.override("zh-hans"):  # the admin's language
        registered = history.index(str(CardEventKind.HOLDER_REGISTERED.label))
        applied = history.index(str(CardEventKind.APPLIED.label))
    assert registered < applied and application.number in history[applied:]


@pytest.mark.django_db
def test_a_city_clerk_never_sees_another_citys_holders(client, manager, holders):
    client.force_login(manager)
    listing = client.get("/admin/cards/resident/")
    assert [r.pk for r in listing.context["cl"].result_list] == [holders["xian"].pk]
    assert client.get(f"/admin/cards/resident/{holders['baoji'].pk}/change/").status_code in (302, 404)
    content = b"".join(client.get("/admin/cards/resident/export/xlsx/").streaming_content)
    cells = {c for r in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in r}
    assert "宝*" not in cells and "王**" in cells
    assert Region.objects.get(code="610302").name not in str(cells)


@pytest.mark.django_db
def test_every_page_renders_and_a_viewer_sees_only_masked_data(client, make_user, manager, holders):
    viewer = make_user("xian_viewer", roles=["只读用户"], scope="610100")
    xian = holders["xian"]
    client.force_login(manager)
    for url in [
        ADD,
        "/admin/cards/resident/import/",
        "/admin/cards/resident/comparison/",
        "/admin/cards/resident/statistics/?by=age",
        "/admin/cards/resident/statistics/?by=ethnicity",
        "/admin/cards/resident/statistics/?by=sex",
        "/admin/cards/resident/statistics/?by=region&region=610113",
    ]:
        assert client.get(url).status_code == 200, url
    client.force_login(viewer)
    detail = client.get(f"/admin/cards/resident/{xian.pk}/change/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert xian.masked_document_number in page and "王**" in page
    for secret in (xian.document_number, "王小明", "13912345678", "王大明"):
        assert secret not in page
    assert 'name="phone1"' not in page  # no form to change anything
    assert client.get(ADD).status_code == 403
    assert client.post(f"/admin/cards/resident/{xian.pk}/reveal/").status_code == 403
