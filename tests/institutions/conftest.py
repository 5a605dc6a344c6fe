"""Institution fixtures built through the real actions."""

import itertools

import pytest
from stdnum.cn import uscc

from institutions import actions
from institutions.models import CardMaker, FinancialInstitution, MedicalInstitution
from registry.models import Region

_serial = itertools.count(1)


def make_uscc(region: str = "610113", kind: str = "12") -> str:
    """A valid unified social credit code: public institutions start 12, companies 91."""
    body = f"{kind}{region}{next(_serial):08d}"[:16] + "X"
    body = body.replace("I", "X").replace("O", "X")
    return body + uscc.calc_check_digit(body)  # (USCC's takes the 17 characters before the check digit)


@pytest.fixture
def make_institution(db, system_actor):
    def make(region: str = "610113", *, model=MedicalInstitution, **fields):
        defaults = {"name": f"测试医院{next(_serial)}"}
        if model is MedicalInstitution:
            defaults.update(nature="public", category="general_hospital", grade="3a")
        defaults.update(fields)
        code = defaults.pop("code", None) or make_uscc(region, "12" if model is MedicalInstitution else "91")
        return actions.organisation_register(
            actor=system_actor, model=model, code=code, region=Region.objects.get(code=region), **defaults
        )

    return make


@pytest.fixture
def card_maker(make_institution):
    return make_institution("610100", model=CardMaker, name="陕西某某智能卡有限公司")


@pytest.fixture
def bank(make_institution):
    return make_institution("610100", model=FinancialInstitution, name="某某银行西安分行", kind="bank")
