"""Printed slips of the cards app: the application receipt (申领回执) and the collection receipt (领卡签收单).

Both show personal data masked only (a slip left on a counter must not leak an ID number) and carry lines for
the signatures; they are printed through registry.exports.write_document_pdf (embedded CJK font).
"""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from cards.actions.common import institution_of
from cards.choices import ApplicantKind, CardEventKind, CardStatus, DocumentType
from cards.models import Application, Card, CardEvent
from registry.errors import DomainError
from registry.exports import write_document_pdf
from registry.models import RegistrationCentre
from registry.protection import mask_id_number, mask_name

SIGN_LINE = "________________"
DATE_LINE = "______年____月____日"


def _centre_name() -> str:
    centre = RegistrationCentre.objects.filter(region_id=settings.HC_REGION).only("name").first()
    return centre.name if centre else ""


def _local(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(value).strftime(fmt) if value else "-"


def _footer(note: str) -> str:
    printed = _("Printed %(when)s") % {"when": timezone.localtime().strftime("%Y-%m-%d %H:%M")}
    return " · ".join(part for part in (note, _centre_name(), printed) if part)


def _guardian_fields(application: Application) -> list[tuple[str, str]]:
    if application.applicant_kind != ApplicantKind.GUARDIAN:
        return []
    return [
        (_("Guardian"), mask_name(application.guardian_name)),
        (_("Guardian's document number"), mask_id_number(application.guardian_document_number)),
        (_("Relation to the holder"), application.get_guardian_relation_display() or "-"),
    ]


def application_receipt_fields(application: Application) -> list[tuple[str, str]]:
    resident = application.resident
    point = institution_of(application)
    fields = [
        (_("Application number"), application.number),
        (_("Holder"), resident.masked_name),
        (_("Document type"), resident.get_document_type_display()),
        (_("Document number"), resident.masked_document_number),
        (_("Channel"), application.get_channel_display()),
        (_("Applicant"), application.get_applicant_kind_display()),
        *_guardian_fields(application),
        (
            _("Service point"),
            point.name if point else (_centre_name() or application.region.full_name),
        ),
        (_("Submitted on"), _local(application.submitted_at)),
        (_("Status"), application.get_status_display()),
    ]
    if application.batch_id:
        fields.insert(5, (_("Batch"), f"{application.batch.number} {application.batch.title}"))
    return fields


def signature_lines(signer, stamp) -> list[str]:
    # Labels translated outside f-strings: xgettext does not look inside them.
    date, clerk = _("Date"), _("Clerk (signature)")
    return [f"{signer}: {SIGN_LINE}    {date}: {DATE_LINE}", f"{clerk}: {SIGN_LINE}    {stamp}"]


def write_application_receipt(application: Application, out) -> None:
    write_document_pdf(
        out,
        title=_("Resident Health Card application receipt"),
        subtitle=_centre_name(),
        fields=application_receipt_fields(application),
        signature_lines=signature_lines(_("Applicant (signature)"), _("Service point (stamp)")),
        footer=_footer(
            _("Keep this receipt; bring it and your identity document when you collect the card.")
        ),
    )


def _collection_event(card: Card) -> CardEvent | None:
    return CardEvent.objects.filter(card=card, kind=CardEventKind.COLLECTED).order_by("-at", "-id").first()


def collection_receipt_fields(card: Card) -> list[tuple[str, str]]:
    resident = card.resident
    event = _collection_event(card)
    check = event.data if event else {}
    seen = check.get("document_type_seen", "")
    point = card.issuing_point
    collector = _("The holder")
    if check.get("by_guardian") and card.application_id:
        collector = f"{_('Guardian')} {mask_name(card.application.guardian_name)}"
    fields = [
        (_("Holder"), resident.masked_name),
        (_("Document type"), resident.get_document_type_display()),
        (_("Document number"), resident.masked_document_number),
        (_("Card number"), mask_id_number(card.card_no)),
        (_("Chip serial"), card.chip_serial or "-"),
        (_("Issuing point"), point.name if point else "-"),
        (
            _("Collected on"),
            _local(card.collected_at) if card.collected_at else _local(timezone.now(), "%Y-%m-%d"),
        ),
        (_("Valid until"), card.expires_on.isoformat() if card.expires_on else "-"),
        (_("Collected by"), collector),
        (_("Identity document checked"), DocumentType(seen).label if seen in DocumentType.values else "-"),
    ]
    if card.application_id:
        fields.append((_("Application number"), card.application.number))
    return fields


def write_collection_receipt(card: Card, out) -> None:
    if card.collected_at is None and card.status != CardStatus.AWAITING_COLLECTION:
        raise DomainError(
            _("Card %(card)s is “%(status)s”: a collection receipt is printed for a card being handed over."),
            {"card": card, "status": card.get_status_display()},
            code="no_collection_receipt",
        )
    write_document_pdf(
        out,
        title=_("Resident Health Card collection receipt"),
        subtitle=_centre_name(),
        fields=collection_receipt_fields(card),
        signature_lines=signature_lines(_("Holder or guardian (signature)"), _("Issuing point (stamp)")),
        footer=_footer(_("I have received the card above and checked that it works.")),
    )


def pdf_response(write, obj, filename: str) -> FileResponse:
    """Write the slip to a temporary file and send it inline (the browser's PDF viewer prints it)."""
    handle = tempfile.TemporaryFile()
    write(obj, handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=False, filename=filename, content_type="application/pdf")


def application_receipt_response(application: Application) -> FileResponse:
    return pdf_response(
        write_application_receipt, application, f"application-receipt-{application.number}.pdf"
    )


def collection_receipt_response(card: Card) -> FileResponse:
    # The file name carries the card's id, never its number (the holder's ID number).
    return pdf_response(write_collection_receipt, card, f"collection-receipt-{card.pk}.pdf")
