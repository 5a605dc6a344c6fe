"""Importing medical institutions: every bad row reported where it is, good rows in, re-import idempotent."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re

import pytest
from openpyxl import Workbook, load_workbook
from stdnum.cn import uscc

from institutions.importers import MEDICAL_IMPORT
from institutions.models import MedicalInstitution
from registry import import_actions
from registry.imports import (
    ImportColumn,
    ImportFileError,
    ImportRefused,
    ImportSpec,
    import_check,
    import_commit,
    import_spec,
)
from registry.models import AuditEntry, ImportJob, JournalEntry
from registry.models.imports import ImportJobStatus

HEADERS = [
    "名称",
    "统一社会信用代码",
    "执业许可证登记号",
    "经济类型",
    "类别",
    "等级",
    "地区",
    "地址",
    "联系人",
    "联系电话",
    "负责人",
]
KEYS = [
    "name",
    "code",
    "licence_number",
    "nature",
    "category",
    "grade",
    "region",
    "address",
    "contact_person",
    "phone",
    "head",
]


def code(n: int, region: str = "610113") -> str:
    body = f"12{region}MB{n:07d}"
    return body + uscc.calc_check_digit(body)


def bad_checksum(valid: str) -> str:
    return valid[:-1] + ("0" if valid[-1] != "0" else "1")


GOOD_A, GOOD_B, GOOD_C = code(1), code(2, "610116"), code(3, "610102")


def row(name, usc, region, *, nature="公立", category="综合医院", grade="三级甲等", phone="029-88880001"):
    return [name, usc, "", nature, category, grade, region, "西安市某路1号", "王某", phone, "李某"]


# The file every format below carries: three good rows and six bad ones, each with one problem.
ROWS = [
    row("雁塔区第一医院", GOOD_A, "陕西省 西安市 雁塔区"),  # row 2
    row("校验位错误医院", bad_checksum(code(4)), "610113"),  # row 3
    row("未知地区医院", code(5), "火星区"),  # row 4
    row("", code(6), "610113"),  # row 5: no name
    row("重复代码医院", GOOD_A, "610113"),  # row 6: the code of row 2 again
    row("铜川医院", code(7, "610202"), "610202"),  # row 7: Tongchuan, outside a Xi'an clerk's region
    row("地市级医院", code(8, "610100"), "610100"),  # row 8: the city itself, not a county
    row("长安区卫生院", GOOD_B, "610116", nature="public", category="township_centre", grade=""),  # row 9
    row("新城区中医医院", GOOD_C, "新城区", category="中医医院"),  # row 10: a short name unique in Xi'an
]
EXPECTED_ERRORS = {
    (3, "统一社会信用代码"),
    (4, "地区"),
    (5, "名称"),
    (6, "统一社会信用代码"),
    (7, "地区"),
    (8, "地区"),
}


@pytest.fixture(autouse=True)
def xian_node(settings):
    settings.HC_REGION = "610100"


@pytest.fixture
def clerk(make_user):
    return make_user("imp_admin", roles=["系统管理员"], scope="610100")


@pytest.fixture
def spec():
    return import_spec(MEDICAL_IMPORT)


def xlsx_bytes(rows, headers=HEADERS, title_rows=0) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for _ in range(title_rows):
        sheet.append(["医疗机构名录（区域卫生信息平台导出）"])
    sheet.append(headers)
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(rows, headers=HEADERS, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def json_bytes(rows, keys=KEYS, lines=False) -> bytes:
    records = [dict(zip(keys, values, strict=True)) for values in rows]
    if lines:
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode("utf-8")
    return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")


FILES = {
    "data.xlsx": lambda rows: xlsx_bytes(rows),
    "data-bom.csv": lambda rows: csv_bytes(rows),
    "data-utf8.csv": lambda rows: csv_bytes(rows, encoding="utf-8"),
    "data-gb18030.csv": lambda rows: csv_bytes(rows, encoding="gb18030"),
    "data-keys.csv": lambda rows: csv_bytes(rows, headers=KEYS),
    "data.json": lambda rows: json_bytes(rows),
    "data-headers.json": lambda rows: json_bytes(rows, keys=HEADERS),
    "data.jsonl": lambda rows: json_bytes(rows, lines=True),
}


def write(tmp_path, name: str, rows=ROWS) -> str:
    path = tmp_path / name
    path.write_bytes(FILES[name](rows))
    return str(path)


def by_position(report) -> dict[tuple[int, str], object]:
    return {(error.row, error.header): error for error in report.errors}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(FILES))
def test_check_reports_every_bad_row_with_its_row_number_and_column(tmp_path, spec, clerk, name):
    report = import_check(spec, write(tmp_path, name), user=clerk)

    assert (report.total, report.valid, report.errors_total) == (9, 3, 6)
    # Sheets number rows as Excel shows them (header = row 1); JSON has no header row, so a record is
    # numbered by its place in the list (or its line), from 1.
    shift = 1 if name.endswith((".json", ".jsonl")) else 0
    errors = {(r + shift, header): error for (r, header), error in by_position(report).items()}
    assert set(errors) == EXPECTED_ERRORS
    assert "不是有效的统一社会信用代码" in errors[3, "统一社会信用代码"].message_zh
    assert "is not a valid unified social credit code" in errors[3, "统一社会信用代码"].message_en
    assert "火星区" in errors[4, "地区"].message_zh and "未知" in errors[4, "地区"].message_zh
    assert "必填" in errors[5, "名称"].message_zh
    duplicate = errors[6, "统一社会信用代码"]
    assert GOOD_A in duplicate.message_zh and f"第 {2 - shift} 行" in duplicate.message_zh
    assert f"row {2 - shift}" in duplicate.message_en
    assert "铜川市" in errors[7, "地区"].message_zh and "不在您的管辖地区" in errors[7, "地区"].message_zh
    assert "医疗机构应登记在区县" in errors[8, "地区"].message_zh
    assert [sample["row"] + shift for sample in report.sample] == [2, 9, 10]
    assert report.sample[2]["region"].startswith("陕西省 西安市 新城区")
    assert MedicalInstitution.objects.count() == 0  # a dry run writes nothing


@pytest.mark.django_db
def test_commit_refuses_a_file_with_bad_rows_unless_told_to_skip_them(tmp_path, spec, clerk, system_actor):
    path = write(tmp_path, "data.xlsx")
    with pytest.raises(ImportRefused) as refused:
        import_commit(spec, path, actor=system_actor, user=clerk)
    assert "有 6 行存在问题" in refused.value.message_zh
    assert MedicalInstitution.objects.count() == 0

    journal_before = JournalEntry.objects.count()
    result = import_commit(spec, path, actor=system_actor, user=clerk, skip_invalid=True)

    assert (result.created, result.updated, result.errors_total) == (3, 0, 6)
    institutions = {i.code: i for i in MedicalInstitution.objects.all()}
    assert set(institutions) == {GOOD_A, GOOD_B, GOOD_C}
    assert institutions[GOOD_A].region_id == "610113" and institutions[GOOD_A].grade == "3a"
    assert institutions[GOOD_B].nature == "public" and institutions[GOOD_B].category == "township_centre"
    assert institutions[GOOD_B].grade == "unrated"  # an empty grade is unrated
    assert institutions[GOOD_C].region_id == "610102" and institutions[GOOD_C].category == "tcm_hospital"

    audits = AuditEntry.objects.filter(action="medicalinstitution.register")
    assert sorted(audits.values_list("object_key", flat=True)) == sorted(
        str(i.pk) for i in institutions.values()
    )
    assert {a.region_code for a in audits} == {"610113", "610116", "610102"}
    journal = list(JournalEntry.objects.order_by("seq")[journal_before:])
    assert [(j.kind, j.key) for j in journal] == [
        ("institutions.medical", c) for c in (GOOD_A, GOOD_B, GOOD_C)
    ]
    assert [j.seq for j in journal] == list(range(journal[0].seq, journal[0].seq + 3))
    assert all(j.origin_node == "610100" and j.origin_seq == j.seq for j in journal)
    assert journal[0].payload["name"] == "雁塔区第一医院" and journal[0].payload["region"] == "610113"


@pytest.mark.django_db
def test_reimporting_the_same_file_updates_by_code_and_never_duplicates(tmp_path, spec, clerk, system_actor):
    good = [ROWS[0], ROWS[7], ROWS[8]]
    first = import_commit(spec, write(tmp_path, "data-bom.csv", good), actor=system_actor, user=clerk)
    assert (first.created, first.updated) == (3, 0)
    audits, journal = AuditEntry.objects.count(), JournalEntry.objects.count()

    again = import_commit(spec, write(tmp_path, "data-bom.csv", good), actor=system_actor, user=clerk)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (AuditEntry.objects.count(), JournalEntry.objects.count()) == (audits, journal)

    changed = [row("雁塔区第一医院", GOOD_A, "610113", phone="029-99990000"), ROWS[7], ROWS[8]]
    third = import_commit(spec, write(tmp_path, "data.xlsx", changed), actor=system_actor, user=clerk)

    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert MedicalInstitution.objects.count() == 3
    institution = MedicalInstitution.objects.get(code=GOOD_A)
    assert institution.phone == "029-99990000"
    update = AuditEntry.objects.get(action="medicalinstitution.update")
    assert update.object_key == str(institution.pk)
    assert update.changes == {"phone": ["029-88880001", "029-99990000"]}
    latest = JournalEntry.objects.order_by("-seq").first()
    assert JournalEntry.objects.count() == journal + 1
    assert (latest.key, latest.payload["phone"]) == (GOOD_A, "029-99990000")


@pytest.mark.django_db
def test_import_updates_an_institution_registered_by_hand(
    tmp_path, spec, clerk, system_actor, make_institution
):
    existing = make_institution("610113", code=GOOD_A, name="旧名称", phone="029-1")
    result = import_commit(spec, write(tmp_path, "data.json", [ROWS[0]]), actor=system_actor, user=clerk)
    assert (result.created, result.updated) == (0, 1)
    existing.refresh_from_db()
    assert (existing.name, existing.phone) == ("雁塔区第一医院", "029-88880001")
    assert existing.registered_at < existing.changed_at
    assert MedicalInstitution.objects.filter(code=GOOD_A).count() == 1


@pytest.mark.django_db
def test_an_absent_column_leaves_the_field_alone_and_a_header_below_a_title_is_found(
    tmp_path, spec, clerk, system_actor, make_institution
):
    make_institution("610113", code=GOOD_A, name="旧名称", phone="029-1", head="张某")
    headers = ["统一社会信用代码", "名称", "地区", "经济类型", "类别", "备注"]
    path = tmp_path / "partial.xlsx"
    path.write_bytes(
        xlsx_bytes([[GOOD_A, "新名称", "610113", "公立", "综合医院", "x"]], headers, title_rows=2)
    )

    report = import_check(spec, str(path), user=clerk)
    assert (report.valid, report.errors_total, report.ignored) == (1, 0, ["备注"])
    assert report.sample[0]["row"] == 4  # two title rows, the header on row 3
    import_commit(spec, str(path), actor=system_actor, user=clerk)
    institution = MedicalInstitution.objects.get(code=GOOD_A)
    assert (institution.name, institution.phone, institution.head) == ("新名称", "029-1", "张某")


@pytest.mark.django_db
def test_a_file_without_a_required_column_is_refused_as_a_whole(tmp_path, spec, clerk):
    path = tmp_path / "no-region.csv"
    path.write_bytes(csv_bytes([["甲医院", GOOD_A]], headers=["名称", "统一社会信用代码"]))
    with pytest.raises(ImportFileError) as refused:
        import_check(spec, str(path), user=clerk)
    assert "经济类型" in refused.value.message_zh and "地区" in refused.value.message_zh


@pytest.mark.django_db
def test_scope_is_the_importing_persons_region(tmp_path, spec, make_user, settings):
    settings.HC_REGION = "610000"  # a province node, where a Tongchuan clerk works
    tongchuan = make_user("tc_admin", roles=["系统管理员"], scope="610200")
    report = import_check(spec, write(tmp_path, "data.xlsx"), user=tongchuan)
    errors = by_position(report)
    assert "不在您的管辖地区" in errors[2, "地区"].message_zh  # Yanta is in Xi'an
    assert (7, "地区") not in errors  # Tongchuan's own county is fine
    assert "新城区" in errors[10, "地区"].message_zh  # a short name found nowhere in Tongchuan


# --- Templates ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_templates_download_with_the_chinese_headers_and_import_cleanly(client, clerk, spec, tmp_path):
    client.force_login(clerk)
    base = "/admin/institutions/medicalinstitution/import/template"

    response = client.get(f"{base}.xlsx")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    workbook = load_workbook(io.BytesIO(response.content))
    data, notes = workbook.worksheets
    assert [cell.value for cell in data[1]] == HEADERS
    assert "说明" in notes.title  # the instructions sheet, in Chinese
    instructions = {row[0]: row for row in notes.iter_rows(min_row=2, values_only=True) if row[0]}
    assert "社区卫生服务中心" in instructions["类别"][4] and "三级甲等" in instructions["等级"][4]
    assert instructions["名称"][2] == "是" and instructions["地址"][2] == "否"

    csv_response = client.get(f"{base}.csv")
    assert csv_response.content.startswith(codecs.BOM_UTF8)
    assert csv_response.content.decode("utf-8-sig").splitlines()[0] == ",".join(HEADERS)

    json_response = client.get(f"{base}.json")
    example = json.loads(json_response.content)
    assert isinstance(example, list) and example[0]["category"] == "community_centre"

    for fmt, content in (
        ("xlsx", response.content),
        ("csv", csv_response.content),
        ("json", json_response.content),
    ):
        path = tmp_path / f"template.{fmt}"
        path.write_bytes(content)
        report = import_check(spec, str(path), user=clerk)
        assert (report.total, report.valid, report.errors_total) == (1, 1, 0), fmt


# --- The admin, end to end ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_upload_report_and_commit_skipping_bad_rows(
    client, clerk, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(clerk)
    changelist = client.get("/admin/institutions/medicalinstitution/")
    assert "/admin/institutions/medicalinstitution/import/" in changelist.content.decode()
    assert client.get("/admin/institutions/medicalinstitution/import/").status_code == 200

    upload = io.BytesIO(xlsx_bytes(ROWS))
    upload.name = "医疗机构.xlsx"
    response = client.post("/admin/institutions/medicalinstitution/import/", {"file": upload})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == f"/admin/institutions/medicalinstitution/import/{job.pk}/"
    assert (job.status, job.rows_total, job.rows_valid, job.errors_total) == ("checked", 9, 3, 6)
    assert job.rows_file.name.endswith("-rows.csv")  # the commit reads this copy, not the workbook again

    page = client.get(response["Location"]).content.decode()
    problems_table = page.split('class="module import-errors"')[1].split("</table>")[0]
    cells = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td>", problems_table)
    assert {(int(r), header) for r, header in cells} == EXPECTED_ERRORS
    assert "不是有效的统一社会信用代码" in page and "必填" in page and "医疗机构应登记在区县" in page
    assert 'name="commit_skipping"' in page

    problems = client.get(f"/admin/institutions/medicalinstitution/import/{job.pk}/problems.xlsx")
    rows = list(
        load_workbook(io.BytesIO(b"".join(problems.streaming_content))).active.iter_rows(values_only=True)
    )
    listed = {(r[0], r[1]) for r in rows if isinstance(r[0], int)}
    assert listed == EXPECTED_ERRORS
    assert any("火星区" in (r[3] or "") for r in rows)

    refused = client.post(response["Location"], {"commit": "1"}, follow=True)
    assert "有 6 行存在问题" in refused.content.decode()
    assert MedicalInstitution.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        client.post(response["Location"], {"commit_skipping": "1"})
    job.refresh_from_db()
    assert (job.status, job.rows_created, job.rows_updated, job.rows_done) == ("done", 3, 0, 9)
    assert set(MedicalInstitution.objects.values_list("code", flat=True)) == {GOOD_A, GOOD_B, GOOD_C}
    registered = AuditEntry.objects.filter(action="medicalinstitution.register")
    assert registered.count() == 3 and {a.user_id for a in registered} == {clerk.pk}
    assert all(a.reason == "从文件导入" for a in registered)
    assert JournalEntry.objects.filter(kind="institutions.medical").count() == 3
    assert (
        AuditEntry.objects.filter(action__in=["import.upload", "import.commit", "import.done"]).count() == 3
    )

    done = client.get(response["Location"]).content.decode()
    assert "已完成" in done and 'http-equiv="refresh"' not in done

    import_actions.import_job_run_commit(job_id=job.pk)  # a redelivered task changes nothing
    assert (
        MedicalInstitution.objects.count() == 3
        and JournalEntry.objects.filter(kind="institutions.medical").count() == 3
    )


@pytest.mark.django_db
def test_a_large_file_is_checked_in_the_background(clerk, monkeypatch, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    monkeypatch.setattr(import_actions, "SYNC_CHECK_BYTES", 1)
    upload = SimpleUploadedFile("big.csv", csv_bytes(ROWS))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = import_actions.import_job_create(user=clerk, spec_name=MEDICAL_IMPORT, uploaded_file=upload)
    assert job.status == ImportJobStatus.PENDING and job.in_progress and len(callbacks) == 1
    callbacks[0]()
    job.refresh_from_db()
    assert (job.status, job.rows_valid, job.errors_total, job.progress_percent) == ("checked", 3, 6, 100)


@pytest.mark.django_db
def test_other_peoples_jobs_are_not_visible(client, clerk, make_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    job = import_actions.import_job_create(
        user=clerk, spec_name=MEDICAL_IMPORT, uploaded_file=SimpleUploadedFile("a.csv", csv_bytes(ROWS[:1]))
    )
    other = make_user("other_admin", roles=["系统管理员"], scope="610100")
    client.force_login(other)
    assert client.get(f"/admin/institutions/medicalinstitution/import/{job.pk}/").status_code == 404
    assert client.get("/admin/registry/importjob/").content.decode().count("a.csv") == 0
    client.force_login(clerk)
    assert "a.csv" in client.get("/admin/registry/importjob/").content.decode()


@pytest.mark.django_db
def test_an_unreadable_file_fails_the_job_with_a_reason(clerk):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("broken.json", b'[{"name": "x",')
    job = import_actions.import_job_create(user=clerk, spec_name=MEDICAL_IMPORT, uploaded_file=upload)
    assert job.status == ImportJobStatus.FAILED and "JSON" in job.error


# --- The machinery, through a spec of its own --------------------------------------------------------------


def _toy_spec(applied: list) -> ImportSpec:
    def apply(rows, *, actor):
        applied.append(list(rows))
        return len(rows), 0

    def validate(values, context):
        if values.get("low") and values.get("high") and int(values["low"]) > int(values["high"]):
            return [("high", "high must not be below low")]
        return []

    return ImportSpec(
        name="tests.toy",
        title="toy",
        key_column="key",
        apply_batch=apply,
        validate_row=validate,
        batch_size=2,
        columns=[
            ImportColumn("key", "key", required=True),
            ImportColumn("low", "low"),
            ImportColumn("high", "high"),
        ],
    )


def test_cross_field_checks_batches_and_a_duplicate_check_that_spills_to_disk(tmp_path, monkeypatch):
    import registry.imports

    monkeypatch.setattr(registry.imports, "SPILL_KEYS", 2)  # the duplicate check leaves memory after 2 keys
    applied: list = []
    path = tmp_path / "toy.csv"
    path.write_bytes(
        csv_bytes(
            [["a", "1", "2"], ["b", "5", "3"], ["c", "", ""], ["d", "", ""], ["a", "", ""], ["e", "", ""]],
            headers=["key", "low", "high"],
        )
    )
    toy = _toy_spec(applied)
    report = import_check(toy, str(path))
    assert [(e.row, e.column, e.message_en) for e in report.errors] == [
        (3, "high", "high must not be below low"),
        (6, "key", report.errors[1].message_en),
    ]
    assert "row 2" in report.errors[1].message_en
    result = import_commit(toy, str(path), actor=None, skip_invalid=True)
    assert result.created == 4 and [len(batch) for batch in applied] == [2, 2]
    assert [r["key"] for batch in applied for r in batch] == ["a", "c", "d", "e"]


def test_json_records_that_are_not_objects_are_reported(tmp_path):
    path = tmp_path / "toy.json"
    path.write_text('[{"key": "a"}, 5, {"key": "b"}]', encoding="utf-8")
    report = import_check(_toy_spec([]), str(path))
    assert (report.total, report.valid, [e.row for e in report.errors]) == (3, 2, [2])


@pytest.mark.parametrize("lines", [False, True])
def test_json_streams_across_chunk_boundaries(tmp_path, monkeypatch, lines):
    import registry.imports

    monkeypatch.setattr(registry.imports, "JSON_CHUNK", 7)  # records, strings and numbers cut mid-way
    records = [{"key": f"键{n}", "low": 10**n, "high": None} for n in range(1, 9)]
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) if lines else json.dumps(records)
    path = tmp_path / ("toy.jsonl" if lines else "toy.json")
    path.write_text("\ufeff" + text, encoding="utf-8")
    applied: list = []
    result = import_commit(_toy_spec(applied), str(path), actor=None)
    rows = [r for batch in applied for r in batch]
    assert result.created == 8 and [r["key"] for r in rows] == [f"键{n}" for n in range(1, 9)]
    assert [r["low"] for r in rows] == [str(10**n) for n in range(1, 9)] and rows[0]["high"] == ""
