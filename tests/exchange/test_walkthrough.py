"""The integrator's walkthrough in docs/hospital-api.md (the Python client's visit, the curl write) runs as
written against a live node and sees what the docs promise."""

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
def live_visit(live_server, hospital, system_actor, active_card):
    card = active_card()
    credential, secret = actions.credential_issue(actor=system_actor, institution=hospital)
    return card, {
        "HC_BASE_URL": live_server.url,
        "HC_KEY_ID": credential.key_id,
        "HC_SECRET": secret,
        "HC_CARD_NO": card.card_no,
        "HC_CHIP": card.chip_serial,
    }


@pytest.mark.django_db(transaction=True)
def test_the_python_walkthrough_runs(live_visit):
    _card, env = live_visit
    result = subprocess.run(
        [sys.executable, "-c", code_block("python")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "西安市雁塔区人民医院" in result.stdout
    assert "status 200 active list" in result.stdout
    assert "batch 200 {'active': 1}" in result.stdout
    assert "identity 200 True" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_the_curl_write_runs(live_visit):
    if not (shutil.which("curl") and shutil.which("openssl")):
        pytest.fail("curl and openssl are needed to check the documented curl example")
    card, env = live_visit
    script = code_block("sh")
    script = re.sub(
        r"^KEY_ID=.*$",
        f"KEY_ID={env['HC_KEY_ID']}; SECRET={env['HC_SECRET']}; BASE={env['HC_BASE_URL']}; "
        "PATH_Q=/api/v1/hospital/cards/verify-batch",
        script,
        count=1,
        flags=re.M,
    )
    script = script.replace("610113198506150012", card.card_no).replace("A1B2C3D4E5F60708", card.chip_serial)
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"code":"active"' in result.stdout.replace(" ", ""), result.stdout
