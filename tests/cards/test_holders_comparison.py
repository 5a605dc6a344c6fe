"""Comparison (比对) with a population reference file: the figures on a crafted file, each mismatch reason, the
admin upload page, its report and export, and the audit row."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from cards.actions.holders import MismatchReason, holder_compare
from cards.importers import comparison_rows
from registry.actors import Actor
from registry.models import AuditEntry

from .conftest import make_id_number

HEADERS = ["name", "document_number", "sex", "ethnicity"]


@pytest.fixture(autouse=True)
def province_node(settings):
    settings.HC_REGION = "610000"


@pytest.fixture
def manager(make_user):
    return make_user("cmp_manager", roles=["卡管理员"], scope="610100")


@pytest.fixture
def registered(make_holder):
    """Nine Xi'an holders (seven plain ones, one whose name and one whose sex the reference has otherwise)."""
    names = ["赵一", "钱二", "孙三", "李四", "周五", "吴六", "郑七", "王八", "冯九"]
    return [make_holder("610113", name=name, male=True, ethnicity="01") for name in names]


def reference(registered) -> list[list[str]]:
    rows = [[h.name, h.document_number, "男", "汉族"] for h in registered[:7]]  # rows 2-8: full matches
    rows.append(["王捌", registered[7].document_number, "1", "01"])  # row 9: name differs
    rows.append(["陈十", make_id_number("610113"), "男", "汉"])  # row 10: not registered here
    rows.append([registered[8].name, registered[8].document_number, "女", "汉族"])  # row 11: sex differs
    return rows


def csv_bytes(rows, headers=HEADERS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(rows, headers=HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_crafted_reference_file_gives_seventy_per_cent(manager, registered, fmt):
    content = (csv_bytes if fmt == "csv" else xlsx_bytes)(reference(registered))
    report = holder_compare(
        actor=Actor.for_user(manager),
        rows=comparison_rows(io.BytesIO(content), f"ref.{fmt}"),
        filename=f"ref.{fmt}",
    )
    assert (report.total, report.matched, report.match_rate) == (10, 7, 70.0)
    assert report.by_reason == {
        MismatchReason.NOT_FOUND: 1,
        MismatchReason.NAME: 1,
        MismatchReason.SEX: 1,
        MismatchReason.ETHNICITY: 0,
        MismatchReason.INVALID_ID: 0,
        MismatchReason.DUPLICATE: 0,
    }
    by_row = {m.row: m for m in report.mismatches}
    assert by_row[9].reasons == (MismatchReason.NAME,)
    assert (by_row[9].reference_name, by_row[9].registered_name) == ("王*", "王*")
    assert by_row[10].reasons == (MismatchReason.NOT_FOUND,)
    assert by_row[11].reasons == (MismatchReason.SEX,)
    assert registered[8].document_number not in str(report.mismatches)  # masked
    audit = AuditEntry.objects.get(action="holder.compare")
    assert (
        audit.changes["rows"] == 10 and audit.changes["matched"] == 7 and audit.changes["match_rate"] == 70.0
    )
    assert audit.user == manager and audit.region_code == "610100"


@pytest.mark.django_db
def test_every_reason_is_counted_and_a_row_may_have_several(manager, registered, make_holder):
    baoji = make_holder("610302", name="宝鸡人")
    h = registered
    rows = [
        [h[0].name, h[0].document_number, "", ""],  # row 2: no sex or ethnicity given: a full match
        [h[1].name, h[1].document_number, "男", "回族"],  # row 3: ethnicity differs
        ["别名", h[2].document_number, "女", "02"],  # row 4: name, sex and ethnicity differ
        [
            "无效",
            h[3].document_number[:-1] + ("0" if h[3].document_number[-1] != "0" else "1"),
            "男",
            "01",
        ],  # row 5
        [h[0].name, h[0].document_number.lower(), "男", "01"],  # row 6: the ID number of row 2 again
        [baoji.name, baoji.document_number, "男", "01"],  # row 7: another city's holder: not here for Xi'an
        [" ".join(h[4].name), h[4].document_number, "M", "1"],  # row 8: spaces in the name do not count
    ]
    report = holder_compare(
        actor=Actor.for_user(manager), rows=comparison_rows(io.BytesIO(csv_bytes(rows)), "r.csv")
    )
    assert (report.total, report.matched) == (7, 2)
    reasons = {m.row: set(m.reasons) for m in report.mismatches}
    assert reasons == {
        3: {MismatchReason.ETHNICITY},
        4: {MismatchReason.NAME, MismatchReason.SEX, MismatchReason.ETHNICITY},
        5: {MismatchReason.INVALID_ID},
        6: {MismatchReason.DUPLICATE},
        7: {MismatchReason.NOT_FOUND},
    }
    assert report.by_reason[MismatchReason.ETHNICITY] == 2 and report.match_rate == round(200 / 7, 1)


@pytest.mark.django_db
def test_the_admin_page_compares_reports_and_exports(client, manager, registered):
    client.force_login(manager)
    listing = client.get("/admin/cards/resident/").content.decode()
    assert "/admin/cards/resident/comparison/" in listing and "/admin/cards/resident/statistics/" in listing
    assert client.get("/admin/cards/resident/comparison/template.xlsx").status_code == 200
    upload = SimpleUploadedFile("人口库.csv", csv_bytes(reference(registered)), content_type="text/csv")
    response = client.post("/admin/cards/resident/comparison/", {"file": upload})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.context["report"].match_rate == 70.0
    html = page.content.decode()
    assert "70.0%" in html and registered[8].document_number not in html
    export = client.get(response["Location"] + "export/xlsx/")
    sheet = load_workbook(io.BytesIO(b"".join(export.streaming_content))).active
    cells = [c for r in sheet.iter_rows(values_only=True) for c in r if c is not None]
    assert registered[8].masked_document_number in cells and registered[8].document_number not in cells
    assert any("70.0%" in str(c) for c in cells)  # the figures are stated on the sheet
    assert client.get(response["Location"] + "export/pdf/")["Content-Type"] == "application/pdf"
    # The report belongs to whoever ran it.
    from django.test import Client

    other = Client()
    other.force_login(manager.__class__.objects.create_superuser("boss", password="x"))
    assert other.get(response["Location"]).status_code == 404


@pytest.mark.django_db
def test_a_file_without_the_id_column_is_refused_as_a_whole(client, manager):
    client.force_login(manager)
    upload = SimpleUploadedFile("bad.csv", csv_bytes([["张三"]], headers=["name"]), content_type="text/csv")
    response = client.post("/admin/cards/resident/comparison/", {"file": upload}, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert not AuditEntry.objects.filter(action="holder.compare").exists()


@pytest.mark.django_db
def test_the_demo_reference_file_matches_about_seventy_per_cent(manager):
    import random

    from cards.actions.holders import holder_import_batch
    from cards.importers import demo_reference_rows
    from cards.models import Resident

    rows = [{"document_number": make_id_number("610113"), "name": f"居民{n:03d}"} for n in range(100)]
    rows = list({row["document_number"]: row for row in rows}.values())
    holder_import_batch(actor=Actor.for_user(manager), rows=rows)
    reference = demo_reference_rows(list(Resident.objects.all()), random.Random(7))
    report = holder_compare(
        actor=Actor.for_user(manager), rows=comparison_rows(io.BytesIO(csv_bytes(reference)), "demo.csv")
    )
    assert report.total == len(rows) and 55 <= report.match_rate <= 85
    assert all(report.by_reason[reason] for reason in (MismatchReason.NAME, MismatchReason.NOT_FOUND))
