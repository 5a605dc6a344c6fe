"""Personal data at rest: sealed, findable through the blind index, surviving key rotation; masked on screen."""

import base64
import json
import logging

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from registry import actions
from registry.models import User
from registry.protection import (
    blind_index,
    blind_indexes,
    blind_lookup,
    key_file_create,
    mask_id_number,
    mask_name,
    mask_phone,
    new_key_material,
    redact,
    sealed_key_id,
)

ID_NUMBER = "61010219900307123X"


def raw_row(user_id: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, real_name, phone, id_number_index FROM registry_user WHERE id = %s", [user_id]
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_raw_row_holds_no_plaintext_and_lookup_finds_it(make_user):
    user = make_user("clerk", scope="610100", real_name="王小明", id_number=ID_NUMBER, phone="13812345678")
    raw_id, raw_name, raw_phone, raw_index = raw_row(user.pk)
    for digits in (ID_NUMBER[:6], ID_NUMBER[6:14], ID_NUMBER[-4:], "1381234", "5678"):
        assert digits not in raw_id
        assert digits not in raw_phone
        assert digits not in raw_index
    assert "王" not in raw_name
    assert raw_id.startswith("hc1.ktest1.")
    found = User.objects.get(**blind_lookup(User, "id_number", ID_NUMBER.lower()))
    assert found.pk == user.pk and found.id_number == ID_NUMBER and found.real_name == "王小明"


@pytest.mark.django_db
def test_encrypted_field_refuses_plain_equality_lookup(make_user):
    make_user("clerk", scope="610100", id_number=ID_NUMBER)
    with pytest.raises(FieldError, match="blind index"):
        User.objects.filter(id_number=ID_NUMBER).exists()


@pytest.mark.django_db
def test_key_rotation_reseals_and_lookup_still_works(make_user, settings, test_keys, system_actor):
    user = make_user("clerk", scope="610100", real_name="王小明", id_number=ID_NUMBER, phone="13812345678")
    rotated_keys = dict(test_keys, active="ktest2", keys={**test_keys["keys"], "ktest2": new_key_material()})
    settings.HC_DATA_KEYS = json.dumps(rotated_keys)

    result = actions.data_keys_rotate(actor=system_actor)

    assert result["registry.User"] == 1
    raw_id, raw_name, raw_phone, _ = raw_row(user.pk)
    assert {sealed_key_id(raw_id), sealed_key_id(raw_name), sealed_key_id(raw_phone)} == {"ktest2"}
    assert ID_NUMBER[-4:] not in raw_id
    found = User.objects.get(**blind_lookup(User, "id_number", ID_NUMBER))
    assert found.id_number == ID_NUMBER and found.phone == "13812345678"
    assert actions.data_keys_status()["registry.User"] == {"ktest2": 3}
    # Once rotated, the old key can be retired and everything still reads.
    settings.HC_DATA_KEYS = json.dumps(dict(rotated_keys, keys={"ktest2": rotated_keys["keys"]["ktest2"]}))
    assert User.objects.get(pk=user.pk).real_name == "王小明"


def test_blind_indexes_in_bulk_are_the_single_blind_index(settings, test_keys):
    values = [ID_NUMBER, ID_NUMBER.lower(), " 6101 0219900307123x\t", "王小明", "", "a:b-c", ID_NUMBER]
    for index_key in (test_keys["index_key"], base64.b64encode(b"k" * 100).decode()):  # longer than a block
        settings.HC_DATA_KEYS = json.dumps(dict(test_keys, index_key=index_key))
        for family in ("id_number", "phone"):
            assert blind_indexes(values, family=family) == {
                value: blind_index(value, family=family) for value in values
            }


@pytest.mark.django_db
def test_a_sealed_value_moved_to_another_column_does_not_open(make_user):
    user = make_user("clerk", scope="610100", real_name="王小明", id_number=ID_NUMBER)
    raw_id = raw_row(user.pk)[0]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_user SET real_name = %s WHERE id = %s", [raw_id, user.pk])
    with pytest.raises(Exception):  # noqa: B017 - the AEAD refuses: the value was sealed for id_number
        User.objects.get(pk=user.pk)


def test_masks():
    assert mask_id_number("61010219900307123X") == "610102**********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_id_number("") == ""


def test_logs_never_carry_id_numbers_or_phones(caplog):
    logger = logging.getLogger("hc.test")
    from registry.protection import RedactPersonalData

    logger.addFilter(RedactPersonalData())
    with caplog.at_level(logging.INFO, logger="hc.test"):
        logger.info("holder %s phone %s", "61010219900307123X", "13812345678")
    assert "19900307" not in caplog.text and "1234567" not in caplog.text
    assert "610102**********123X" in caplog.text and "138****5678" in caplog.text
    assert redact("no numbers here") == "no numbers here"


def test_a_key_file_made_by_two_processes_at_once_is_one_whole_file(tmp_path):
    """generate's workers on a fresh node both find no key file and both make one: the second keeps the first's
    keys (every worker must seal with the same key), and no one ever reads a half-written file."""
    path = tmp_path / "data-keys.json"
    key_file_create(path)
    first = path.read_text()
    key_file_create(path)  # the loser of the race
    assert path.read_text() == first
    assert json.loads(first)["active"] in json.loads(first)["keys"]
    assert [entry.name for entry in tmp_path.iterdir()] == ["data-keys.json"]
