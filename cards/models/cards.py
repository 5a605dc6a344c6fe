"""The card (one physical card: card number + chip serial) and its lifecycle events (the case history)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cards.choices import CardEventKind, CardStatus
from registry.choices import Channel
from registry.lifecycle import Transitions
from registry.protection import BlindIndexField, EncryptedTextField

C = CardStatus


class Card(models.Model):
    # Cards I moves a card from production to the holder's hand; Cards II (cards.actions.maintenance) adds
    # loss, unloss, replacement, cancellation and the correction of a wrong death record.
    TRANSITIONS = Transitions(
        {
            C.ISSUING: [C.ACTIVE, C.CANCELLED],
            C.IN_STOCK: [C.DISPATCHED, C.CANCELLED],
            C.DISPATCHED: [C.AWAITING_COLLECTION, C.IN_STOCK],
            C.AWAITING_COLLECTION: [C.ACTIVE, C.IN_STOCK, C.CANCELLED],
            C.ACTIVE: [C.LOST, C.REPLACED, C.CANCELLED],
            C.LOST: [C.ACTIVE, C.REPLACED, C.CANCELLED],
            # Only a correction of a wrong death record brings a cancelled card back (death_record_correct);
            # every other action checks the state it starts from before it moves the card.
            C.CANCELLED: [C.ACTIVE],
            C.REPLACED: [],
        }
    )
    REGION_SCOPE_FIELD = "region__code"
    IN_HAND = (C.ACTIVE, C.LOST)  # states in which the holder has the card

    # The card number is the holder's document number: personal data, sealed, found by its blind index
    # (same family as the holder's, so card and holder lookups agree).
    card_no = EncryptedTextField(_("card number"))
    card_index = BlindIndexField(source="card_no", family="id_number", db_index=False)
    chip_serial = models.CharField(_("chip serial"), max_length=20, blank=True)
    resident = models.ForeignKey(
        "cards.Resident", verbose_name=_("holder"), on_delete=models.PROTECT, related_name="cards"
    )
    application = models.ForeignKey(
        "cards.Application",
        verbose_name=_("application"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cards",
    )
    plan_item = models.OneToOneField(
        "cards.PlanItem",
        verbose_name=_("plan item"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="card",
    )
    status = models.CharField(_("status"), max_length=20, choices=CardStatus.choices)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    # Why a card is cancelled (CancellationReason) or replaced (ReplacementReason); empty otherwise.
    status_reason = models.CharField(_("status reason"), max_length=20, blank=True)
    # The card this one replaces (补换卡): the old card is REPLACED, both case histories show the link.
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("replaces card"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replacements",
    )
    region = models.ForeignKey(
        "registry.Region",
        verbose_name=_("region"),
        on_delete=models.PROTECT,
        help_text=_("Where the card is issued (the issuing centre's or point's region)."),
    )
    stock_in = models.ForeignKey(
        "cards.StockIn",
        verbose_name=_("stock-in"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cards",
    )
    stock_out = models.ForeignKey(
        "cards.StockOut",
        verbose_name=_("stock-out"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cards",
    )
    medical_institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("issuing medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    financial_institution = models.ForeignKey(
        "institutions.FinancialInstitution",
        verbose_name=_("issuing bank branch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    issued_at = models.DateTimeField(_("personalised at"), null=True, blank=True)
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True, db_index=True)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), db_index=True)

    class Meta:
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        ordering = ["-id"]
        # Exact lookups only (blind index, chip serial, status), so plain btrees: `db_index=True` on a CharField
        # would add a varchar_pattern_ops (`_like`) index on PostgreSQL, for LIKE 'x%' that nothing asks here —
        # each one more index to write per card and to rebuild in `generate`. Names are the ones Django gave
        # the db_index indexes (chip_serial's was 31 characters, over the limit of 30).
        indexes = [
            models.Index(fields=["card_index"], name="cards_card_card_index_3ff344e4"),
            models.Index(fields=["chip_serial"], name="card_chip_serial"),
            # (status, id): the admin list filtered by a status shows its newest cards first (ordering -id), read
            # from this index backwards; on status alone PostgreSQL walked the primary key and discarded every
            # newer card of another status (5 M rows, 3 s for `lost` at 10 M cards).
            models.Index(fields=["status", "id"], name="card_status_id"),
            models.Index(fields=["region", "status"], name="card_region_status"),
        ]
        constraints = [
            # One physical card: the same chip serial never appears twice for one card number.
            models.UniqueConstraint(
                fields=["card_index", "chip_serial"],
                condition=~Q(chip_serial=""),
                name="card_physical_unique",
            ),
        ]

    def __str__(self) -> str:
        from registry.protection import mask_id_number

        return f"{mask_id_number(self.card_no)} / {self.chip_serial or '-'}"

    @property
    def issuing_point(self):
        return self.medical_institution or self.financial_institution


class CardEvent(models.Model):
    """One line of the case history (个案): every state change of a holder's application, plan item or card."""

    REGION_SCOPE_FIELD = "region__code"

    resident = models.ForeignKey(
        "cards.Resident", verbose_name=_("holder"), on_delete=models.PROTECT, related_name="events"
    )
    card = models.ForeignKey(
        Card, verbose_name=_("card"), null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    application = models.ForeignKey(
        "cards.Application",
        verbose_name=_("application"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
    )
    kind = models.CharField(_("event"), max_length=24, choices=CardEventKind.choices)
    at = models.DateTimeField(_("time"), db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(_("actor"), max_length=150)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    institution_code = models.CharField(_("institution code"), max_length=18, blank=True)
    institution_name = models.CharField(_("institution"), max_length=100, blank=True)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("card event")
        verbose_name_plural = _("card events")
        ordering = ["at", "id"]
        indexes = [
            # Exact lookups only: a plain btree, without the `_like` index `db_index=True` would add (see Card).
            models.Index(fields=["kind"], name="cards_cardevent_kind_b02b8704"),
            models.Index(fields=["card", "at"], name="card_event_card"),
            models.Index(fields=["resident", "at"], name="card_event_resident"),
            models.Index(fields=["region", "kind", "at"], name="card_event_stats"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"
