"""The card maker's return file ("cards.plan_return") through registry.imports: upload, dry run with every bad
row (row number, column, Chinese and English), commit in batches.

The format is documented in docs/personalisation-file.md. Rows name their plan, so one file may answer several
plans; each row is checked as cards.actions.production.return_row_check says, and applied by
plan_return_import_batch. Re-applying a file changes nothing (rows already recorded are "unchanged").
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from cards.actions.production import (
    check_return_plan,
    plan_items_for_return,
    plan_return_import_batch,
    return_row_check,
    serial_owners,
)
from cards.choices import PlanItemStatus
from cards.models import ProductionPlan
from cards.personalisation import parse_result
from registry.errors import DomainError
from registry.imports import ImportCellError, ImportColumn, ImportContext, ImportSpec, register_import_spec
from registry.scope import node_prefix, user_scope_prefix

__all__ = ["PLAN_RETURN_IMPORT", "PLAN_RETURN_SPEC"]

PLAN_RETURN_IMPORT = "cards.plan_return"


def _plan(text: str, context: ImportContext) -> ProductionPlan:
    plans: dict = context.memo("plans", dict)
    if text not in plans:
        prefix = node_prefix() if context.user is None else user_scope_prefix(context.user)
        plan = ProductionPlan.objects.select_related("card_maker").filter(number=text).first()
        if plan is None or prefix is None or not plan.region_id.startswith(prefix):
            plans[text] = ImportCellError(
                _("No production plan %(number)s in your region."), {"number": text}, code="plan_not_found"
            )
        else:
            try:
                check_return_plan(plan)
            except DomainError as error:
                plans[text] = error
            else:
                plans[text] = plan
    found = plans[text]
    if isinstance(found, DomainError):
        raise found
    return found


def _item_id(text: str, context: ImportContext) -> int:
    if not re.fullmatch(r"\d{1,18}", text):
        raise ImportCellError(
            _("“%(value)s” is not a plan item id (a whole number)."), {"value": text}, code="item_id_invalid"
        )
    return int(text)


def _result(text: str, context: ImportContext) -> str:
    result = parse_result(text)
    if result is None:
        raise ImportCellError(
            _("The result must be “produced” or “failed”, not “%(value)s”."),
            {"value": text},
            code="invalid_result",
        )
    return result


def _items(plan: ProductionPlan, context: ImportContext) -> dict:
    # One read per plan and run: a return file answers a whole plan.
    return context.memo(f"items:{plan.pk}", lambda: plan_items_for_return(plan))


def validate_row(values: dict, context: ImportContext) -> list[tuple[str, object]]:
    plan, item_id = values["plan_number"], values["item_id"]
    serial = values.get("chip_serial", "")
    problems: list[tuple[str, object]] = []
    if values["result"] == PlanItemStatus.PRODUCED and serial:
        seen: dict = context.memo("chip_serials", dict)
        first = seen.setdefault(serial, item_id)
        if first != item_id:
            problems.append(
                (
                    "chip_serial",
                    DomainError(
                        _(
                            "Chip serial %(serial)s appears twice in this file (plan items %(first)s and %(item)s)."
                        ),
                        {"serial": serial, "first": first, "item": item_id},
                        code="duplicate_chip_serial",
                    ),
                )
            )
    _outcome, found = return_row_check(
        plan=plan,
        item=_items(plan, context).get(item_id),
        item_id=item_id,
        card_no=values.get("card_no", ""),
        result=values["result"],
        chip_serial=serial,
        failure_reason=values.get("failure_reason", ""),
        owners=serial_owners([serial]).get(serial, set()) if serial else set(),
    )
    return problems + found


PLAN_RETURN_SPEC = register_import_spec(
    ImportSpec(
        name=PLAN_RETURN_IMPORT,
        title=_("Card maker's return file"),
        columns=[
            ImportColumn(
                "plan_number",
                _("plan number"),
                required=True,
                parse=_plan,
                example="P610100-20261121-7F3K9Q",
                help=_("As in the manifest of the personalisation file."),
            ),
            ImportColumn(
                "item_id",
                _("plan item id"),
                required=True,
                parse=_item_id,
                example="1024",
                help=_("The item_id of the card in cards.csv."),
            ),
            ImportColumn(
                "card_no",
                _("card number"),
                max_length=18,
                example="610113198506150012",
                help=_("Optional; when given it must be the card number of that item."),
            ),
            ImportColumn(
                "result",
                _("result"),
                required=True,
                parse=_result,
                example="produced",
                help=_("produced or failed (also 1 or 0, 成功 or 失败)."),
            ),
            ImportColumn(
                "chip_serial",
                _("chip serial"),
                max_length=20,
                example="A1B2C3D4E5",
                help=_("Required for a produced card; never used by another card."),
            ),
            ImportColumn(
                "failure_reason",
                _("failure reason"),
                max_length=200,
                example="",
                help=_("Required for a failed card."),
            ),
        ],
        key_column="item_id",
        apply_batch=plan_return_import_batch,
        validate_row=validate_row,
    )
)
