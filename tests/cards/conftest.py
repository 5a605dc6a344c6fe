"""Fixtures of the cards tests: holders with valid ID numbers, made through the real actions."""

import datetime as dt
import itertools

import pytest
from stdnum.cn import ric

from cards import actions
from cards.choices import ApplicationChannel

_serial = itertools.count(1)


def make_id_number(county: str = "610113", born: dt.date = dt.date(1985, 6, 15), male: bool = True) -> str:
    """A valid 18-digit ID number for a current county (python-stdnum checks it)."""
    sequence = next(_serial) % 100
    body = f"{county}{born:%Y%m%d}{sequence:02d}{(2 * (sequence % 5) + (1 if male else 0)) % 10}"
    # calc_check_digit takes the number with a placeholder where the check digit goes.
    return body + ric.calc_check_digit(body + "0")


@pytest.fixture
def make_holder(db, system_actor):
    def make(
        county: str = "610113",
        *,
        born: dt.date = dt.date(1985, 6, 15),
        male: bool = True,
        actor=None,
        **fields,
    ):
        fields.setdefault("name", "王小明" if male else "李小红")
        return actions.holder_register(
            actor=actor or system_actor, document_number=make_id_number(county, born, male), **fields
        )

    return make


@pytest.fixture
def approved_application(make_holder, system_actor):
    def make(county: str = "610113", **kwargs):
        holder = make_holder(county, **kwargs)
        return actions.application_submit(
            actor=system_actor, resident=holder, channel=ApplicationChannel.COUNTER
        )

    return make
