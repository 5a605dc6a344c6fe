"""The card maker's return file: produced/failed per item, row errors, idempotence, the import machinery."""

import io

import pytest

from cards import actions
from cards.choices import ApplicationStatus, PlanItemStatus, PlanStatus
from cards.importers_production import PLAN_RETURN_IMPORT
from cards.models import CardEvent, PlanItem, ProductionPlan
from cards.personalisation import return_file_csv
from registry.errors import DomainError
from registry.imports import ImportRefused, import_check, import_commit, import_spec
from registry.models import AuditEntry, JournalEntry

from . import test_production_setup as shared
from .test_production_setup import chip_serial, results

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan


@pytest.mark.django_db
def test_produced_and_failed_items_and_the_success_rate(make_plan, system_actor):
    plan = make_plan("in_production", n=4)
    rows = results(plan, failed=1)
    outcome = actions.plan_return_apply(actor=system_actor, plan=plan, rows=rows[:2])
    assert (outcome.produced, outcome.failed, outcome.completed) == (2, 0, False)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.IN_PRODUCTION and plan.success_rate == 100.0
    outcome = actions.plan_return_apply(actor=system_actor, plan=plan, rows=rows)
    assert (outcome.produced, outcome.failed, outcome.unchanged, outcome.completed) == (1, 1, 2, True)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert (plan.item_count, plan.produced_count, plan.failed_count, plan.success_rate) == (4, 3, 1, 75.0)
    failed = PlanItem.objects.get(plan=plan, status=PlanItemStatus.FAILED)
    assert failed.failure_reason == "芯片初始化失败" and failed.chip_serial == "" and failed.returned_at
    assert failed.application.status == ApplicationStatus.FAILED
    event = CardEvent.objects.get(kind="production_failed", application=failed.application)
    assert event.reason == "芯片初始化失败" and event.institution_code == plan.card_maker.code
    produced = PlanItem.objects.filter(plan=plan, status=PlanItemStatus.PRODUCED).first()
    assert CardEvent.objects.get(kind="produced", application=produced.application).data["chip_serial"] == (
        produced.chip_serial
    )


@pytest.mark.django_db
def test_applying_the_same_file_again_changes_nothing(make_plan, system_actor):
    plan = make_plan("in_production", n=3)
    rows = results(plan, failed=1)
    actions.plan_return_apply(actor=system_actor, plan=plan, rows=rows)
    counts = (CardEvent.objects.count(), JournalEntry.objects.count(), AuditEntry.objects.count())
    before = list(
        PlanItem.objects.order_by("id").values_list("status", "chip_serial", "failure_reason", "returned_at")
    )
    outcome = actions.plan_return_apply(actor=system_actor, plan=plan, rows=rows)
    assert (outcome.produced, outcome.failed, outcome.unchanged) == (0, 0, 3)
    assert (CardEvent.objects.count(), JournalEntry.objects.count(), AuditEntry.objects.count()) == counts
    after = list(
        PlanItem.objects.order_by("id").values_list("status", "chip_serial", "failure_reason", "returned_at")
    )
    assert after == before
    plan = ProductionPlan.objects.get(pk=plan.pk)
    assert (plan.produced_count, plan.failed_count) == (2, 1)


@pytest.mark.django_db
def test_bad_rows_are_reported_by_row_number_in_both_languages_and_nothing_is_applied(
    make_plan,
    system_actor,
):
    other = make_plan("completed", n=1)
    used = other.items.get().chip_serial
    plan = make_plan("in_production", n=4)
    rows = results(plan)
    first, second, third, fourth = rows
    first["card_no"] = "110101199001011237"  # someone else's number
    second["chip_serial"] = used  # already on another plan's card
    third.update(result="failed", chip_serial="", failure_reason="")  # a failure needs its reason
    fourth["chip_serial"] = ""  # a produced card needs its chip serial
    rows.append({"item_id": 999999, "result": "produced", "chip_serial": chip_serial()})  # not in this plan
    rows.append(dict(first))  # the same item twice
    with pytest.raises(DomainError) as caught:
        actions.plan_return_apply(actor=system_actor, plan=plan, rows=rows)
    error = caught.value
    assert error.code == "return_file_invalid"
    found = {(problem["row"], problem["column"], problem["code"]) for problem in error.detail}
    assert found == {
        (2, "card_no", "card_no_mismatch"),
        (3, "chip_serial", "chip_serial_used"),
        (4, "failure_reason", "failure_reason_required"),
        (5, "chip_serial", "chip_serial_required"),
        (6, "item_id", "item_not_in_plan"),
        (7, "item_id", "duplicate_item"),
    }
    for problem in error.detail:
        assert problem["message_zh"] and problem["message_en"]
    assert set(PlanItem.objects.filter(plan=plan).values_list("status", flat=True)) == {
        PlanItemStatus.PENDING
    }
    assert ProductionPlan.objects.get(pk=plan.pk).produced_count == 0


@pytest.mark.django_db
def test_a_recorded_result_cannot_be_changed_by_a_later_file(make_plan, system_actor):
    plan = make_plan("in_production", n=2)
    rows = results(plan, failed=1)
    actions.plan_return_apply(actor=system_actor, plan=plan, rows=rows[:1] + rows[1:])
    produced, failed = rows
    changed = [
        {**produced, "chip_serial": chip_serial()},
        {"item_id": failed["item_id"], "result": "produced", "chip_serial": chip_serial()},
    ]
    with pytest.raises(DomainError) as caught:
        actions.plan_return_apply(actor=system_actor, plan=plan, rows=changed)
    assert {p["code"] for p in caught.value.detail} == {"item_already_returned"}


@pytest.mark.django_db
def test_a_chip_serial_twice_in_one_file_is_a_row_error(make_plan, system_actor):
    plan = make_plan("in_production", n=2)
    rows = results(plan)
    rows[1]["chip_serial"] = rows[0]["chip_serial"]
    with pytest.raises(DomainError) as caught:
        actions.plan_return_apply(actor=system_actor, plan=plan, rows=rows)
    assert [(p["row"], p["code"]) for p in caught.value.detail] == [(3, "duplicate_chip_serial")]


# --- through the shared import machinery (admin upload, API upload) ---------------------------------------


def _file(plan, rows) -> io.BytesIO:
    data = return_file_csv([{"plan_number": plan.number, **row} for row in rows])
    handle = io.BytesIO(data)
    handle.name = "return.csv"
    return handle


@pytest.mark.django_db
def test_dry_run_report_then_commit_then_recommit_changes_nothing(make_plan, system_actor):
    plan = make_plan("in_production", n=3)
    rows = results(plan, failed=1)
    spec = import_spec(PLAN_RETURN_IMPORT)
    report = import_check(spec, _file(plan, rows))
    assert (report.total, report.valid, report.errors_total) == (3, 3, 0)
    assert PlanItem.objects.filter(plan=plan, status=PlanItemStatus.PENDING).count() == 3  # a dry run
    result = import_commit(spec, _file(plan, rows), actor=system_actor)
    assert (result.created, result.updated) == (0, 3)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED and (plan.produced_count, plan.failed_count) == (2, 1)
    again = import_commit(spec, _file(plan, rows), actor=system_actor)
    assert (again.updated, again.unchanged) == (0, 3)


@pytest.mark.django_db
def test_the_import_reports_each_bad_row_with_its_number(make_plan, system_actor):
    plan = make_plan("in_production", n=3)
    rows = results(plan)
    rows[0]["result"] = "maybe"
    rows[1]["chip_serial"] = rows[2]["chip_serial"]
    rows.append({"item_id": "abc", "result": "produced", "chip_serial": chip_serial()})
    spec = import_spec(PLAN_RETURN_IMPORT)
    report = import_check(spec, _file(plan, rows))
    problems = {(e.row, e.column) for e in report.errors}
    assert problems == {(2, "result"), (4, "chip_serial"), (5, "item_id")}
    assert all(e.message_zh and e.message_en for e in report.errors)
    with pytest.raises(ImportRefused):
        import_commit(spec, _file(plan, rows), actor=system_actor)
    assert not PlanItem.objects.filter(plan=plan).exclude(status=PlanItemStatus.PENDING).exists()


@pytest.mark.django_db
def test_the_import_refuses_a_plan_that_is_not_in_production(make_plan, system_actor):
    plan = make_plan("submitted", n=1)
    report = import_check(import_spec(PLAN_RETURN_IMPORT), _file(plan, results(plan)))
    assert [(e.row, e.column) for e in report.errors] == [(2, "plan_number")]
    assert "Submitted" in report.errors[0].message_en
