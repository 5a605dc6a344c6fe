"""An import's error report is stored and exported: it never carries an ID number or a name in clear."""

import io

import pytest

from registry.imports import import_check, import_spec

from .conftest import make_id_number


@pytest.mark.django_db
def test_row_errors_mask_personal_values(settings):
    settings.HC_REGION = "610100"
    good = make_id_number("610113")
    bad_checksum = good[:-1] + ("0" if good[-1] != "0" else "1")
    csv = (
        "name,document_number\n"
        f"王小明,{good}\n"
        f"王小明,{good}\n"  # duplicate in the file
        f"李四,{bad_checksum}\n"
    ).encode()
    report = import_check(import_spec("cards.holders"), io.BytesIO(csv), filename="holders.csv")
    assert {e.row for e in report.errors} >= {3, 4}
    text = " ".join(f"{e.value} {e.message_zh} {e.message_en}" for e in report.errors)
    assert good not in text and bad_checksum not in text and good[6:14] not in text
    assert "王小明" not in text and "李四" not in text
