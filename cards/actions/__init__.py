"""Every write of the cards app, one module per area (holders, applications, production, stock, issuance,
maintenance; the card and person entries of registry's list in lists).

Each action is keyword-only, takes the acting Actor, runs in one durable transaction and writes the card
event (the case history), the audit row and the journal row in that transaction.
"""

from cards.actions.applications import (  # noqa: F401
    application_review,
    application_submit,
    application_withdraw,
    batch_create,
)
from cards.actions.holders import (  # noqa: F401
    holder_compare,
    holder_import_batch,
    holder_register,
    holder_reveal,
    holder_update,
)
from cards.actions.issuance import (  # noqa: F401
    card_collect,
    card_issue_onsite_abort,
    card_issue_onsite_allocate,
    card_issue_onsite_complete,
)
from cards.actions.maintenance import (  # noqa: F401
    card_blacklist_add,
    card_blacklist_remove,
    card_cancel,
    card_info_update,
    card_replace,
    card_report_loss,
    card_unreport_loss,
    death_record_apply,
    death_record_correct,
    death_record_import_batch,
    holder_contacts_update,
    person_blacklist_add,
    person_blacklist_remove,
)
from cards.actions.production import (  # noqa: F401
    plan_close,
    plan_generate,
    plan_personalisation_file,
    plan_return_apply,
    plan_start,
    plan_submit,
)
from cards.actions.stock import shipment_update, stock_in_record, stock_out_record  # noqa: F401
from cards.actions.uses import card_use_daily_apply, card_use_ingest_batch  # noqa: F401
