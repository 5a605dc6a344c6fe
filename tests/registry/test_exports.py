"""Export and print: the filtered rows, the filters stated, Chinese text in the PDF, big lists in the background."""

import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from registry import actions
from registry.exports import Column, Sheet, write_pdf, write_xlsx
from registry.models import ExportJob


@pytest.fixture
def shaanxi(make_centre, system_actor):
    centres = {
        code: make_centre(code, head=f"负责人{code[-3:]}")
        for code in ["610000", "610100", "610200", "610300"]
    }
    actions.centre_deregister(actor=system_actor, centre=centres["610300"], reason="撤并")
    return centres


@pytest.fixture
def admin_user(make_user):
    return make_user("sx_admin", roles=["系统管理员"], scope="610000")


def workbook_rows(content: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    return [row for row in sheet.iter_rows(values_only=True)]


@pytest.mark.django_db
def test_admin_xlsx_export_holds_the_filtered_rows_and_states_the_filters(
    client, shaanxi, admin_user, settings
):
    settings.HC_REGION = "610000"
    client.force_login(admin_user)
    response = client.get(
        "/admin/registry/registrationcentre/export/xlsx/?status__exact=active&tier__exact=city"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    rows = workbook_rows(b"".join(response.streaming_content))
    assert "状态" in rows[1][0] and "有效" in rows[1][0]  # the filters, in words
    data = [row for row in rows[5:] if row and row[0] and str(row[0]).isdigit()]
    assert sorted(row[0] for row in data) == ["610100", "610200"]
    assert {row[3] for row in data} == {"西安市居民健康卡注册管理中心", "铜川市居民健康卡注册管理中心"}


@pytest.mark.django_db
def test_pdf_print_contains_the_chinese_text(client, shaanxi, admin_user, settings):
    settings.HC_REGION = "610000"
    client.force_login(admin_user)
    response = client.get("/admin/registry/registrationcentre/export/pdf/?status__exact=deregistered")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages
    )
    assert "宝鸡市居民健康卡注册管理中心" in text
    assert "西安市居民健康卡注册管理中心" not in text
    assert "注册管理中心" in text and "已注销" in text


def test_writers_on_plain_rows_keep_memory_flat_shape():
    rows = ({"n": i, "name": f"第{i}行"} for i in range(2500))
    sheet = Sheet(
        title="测试",
        columns=[Column("序号", lambda r: r["n"]), Column("名称", lambda r: r["name"])],
        rows=rows,
        filters=[("地区", "西安市")],
        generated_by="tester",
    )
    out = io.BytesIO()
    assert write_xlsx(sheet, out) == 2500
    content = workbook_rows(out.getvalue())
    assert content[0][0] == "测试" and "地区 = 西安市" in content[1][0]
    assert content[5][1] == "第0行" and content[2504][1] == "第2499行"


def test_pdf_printout_is_capped_and_says_so(monkeypatch):
    monkeypatch.setattr("registry.exports.PDF_ROW_LIMIT", 30)
    sheet = Sheet(
        title="打印测试", columns=[Column("名称", lambda r: r)], rows=(f"行{i}" for i in range(100))
    )
    out = io.BytesIO()
    assert write_pdf(sheet, out) == 30
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages)
    assert "行29" in text and "行30" not in text


@pytest.mark.django_db
def test_a_large_export_becomes_a_background_job_with_progress(
    client, shaanxi, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.HC_REGION = "610000"
    settings.HC_EXPORT_SYNC_LIMIT = 2
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/admin/registry/registrationcentre/export/xlsx/")
    assert response.status_code == 302
    job = ExportJob.objects.get()
    # Without a broker the job ran in-process on commit.
    assert job.status == "done" and job.rows_done == 4 and job.progress_percent == 100
    download = client.get(f"/admin/registry/exportjob/{job.pk}/download/")
    assert download.status_code == 200
    rows = workbook_rows(b"".join(download.streaming_content))
    assert {row[0] for row in rows[5:] if row and row[0] and str(row[0]).isdigit()} == {
        "610000",
        "610100",
        "610200",
        "610300",
    }


@pytest.mark.django_db
def test_someone_elses_export_cannot_be_downloaded(
    client, shaanxi, admin_user, make_user, settings, django_capture_on_commit_callbacks
):
    settings.HC_REGION = "610000"
    settings.HC_EXPORT_SYNC_LIMIT = 2
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.get("/admin/registry/registrationcentre/export/xlsx/")
    job = ExportJob.objects.get()
    client.force_login(make_user("other", roles=["系统管理员"], scope="610000"))
    assert client.get(f"/admin/registry/exportjob/{job.pk}/download/").status_code == 404
