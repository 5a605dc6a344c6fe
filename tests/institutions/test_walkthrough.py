"""The integrator's walkthrough in docs/hospital-api.md runs as written against a live node."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from institutions import actions

DOC = Path(__file__).resolve().parents[2] / "docs" / "hospital-api.md"


def code_block(language: str) -> str:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)[-1]


@pytest.fixture
def live_key(live_server, make_institution, system_actor):
    hospital = make_institution("610113", name="西安市雁塔区人民医院")
    credential, secret = actions.credential_issue(actor=system_actor, institution=hospital)
    return {"HC_BASE_URL": live_server.url, "HC_KEY_ID": credential.key_id, "HC_SECRET": secret}


@pytest.mark.django_db(transaction=True)
def test_the_python_client_in_the_docs_works(live_key):
    result = subprocess.run(
        [sys.executable, "-c", code_block("python")],
        env={**os.environ, **live_key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "西安市雁塔区人民医院" in result.stdout and "610113" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_the_curl_example_in_the_docs_works(live_key):
    if not (shutil.which("curl") and shutil.which("openssl")):
        pytest.fail("curl and openssl are needed to check the documented curl example")
    script = code_block("bash")
    script = re.sub(
        r"^KEY_ID=.*$",
        f"KEY_ID={live_key['HC_KEY_ID']}; SECRET={live_key['HC_SECRET']}; "
        f"BASE={live_key['HC_BASE_URL']}; PATH_Q=/api/v1/hospital/whoami",
        script,
        count=1,
        flags=re.M,
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "610113" in result.stdout, result.stdout
