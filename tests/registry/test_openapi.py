"""The OpenAPI description integrators read is complete: generating it gives no warning."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    text = target.read_text(encoding="utf-8")
    assert "/api/v1/hospital/whoami" in text and "/api/v1/holders/" in text and "HospitalSignature" in text
