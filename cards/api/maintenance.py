"""Staff API of card maintenance: loss / unloss / replace / cancel / death correction / manual blacklist on a
card (`/api/v1/cards/{id}/report-loss/` ...), its timeline (also as XLSX/PDF), the lifecycle counts, and the
death records (list, export, one record received through the API)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cards import actions
from cards.admin.maintenance import DeathRecordAdmin, timeline_response
from cards.api.applications import ActionPermissionsMixin
from cards.choices import CancellationReason, DocumentType, ReplacementReason
from cards.models import DeathRecord
from cards.selectors.cards import card_timeline
from cards.selectors.maintenance import card_lifecycle_counts
from registry.api.mixins import ExportMixin, ScopedViewSetMixin
from registry.errors import DomainError
from registry.protection import mask_id_number, mask_name
from registry.scope import user_scope_prefix


class IdentitySerializer(serializers.Serializer):
    document_type = serializers.ChoiceField(choices=DocumentType.choices, default=DocumentType.ID_CARD)
    document_number = serializers.CharField(
        max_length=40, help_text="The number on the document shown; compared, only a masked copy is kept"
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class ReplaceSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=ReplacementReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    new_chip_serial = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=40,
        help_text="Given when the new card was written on site: it is active at once",
    )


class CancelSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=CancellationReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=200)


class LifecycleCountSerializer(serializers.Serializer):
    region = serializers.CharField()
    period = serializers.CharField()
    kind = serializers.CharField()
    count = serializers.IntegerField()


class CardMaintenanceViewMixin:
    """Mixed into cards.api.cards.CardViewSet."""

    maintenance_permissions = {
        "report_loss": ("cards.change_card",),
        "unreport_loss": ("cards.change_card",),
        "replace": ("cards.add_card", "cards.change_card"),
        "cancel": ("cards.change_card",),
        "death_correct": ("cards.change_card", "cards.correct_deathrecord"),
        "blacklist": ("cards.change_card",),
        "unblacklist": ("cards.change_card",),
    }

    def _answer(self, card, status=200):
        from cards.api.cards import CardSerializer

        return Response(CardSerializer(self.get_queryset().get(pk=card.pk)).data, status=status)

    def _data(self, serializer_class):
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data

    @extend_schema(request=IdentitySerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"], url_path="report-loss")
    def report_loss(self, request, pk=None):
        """挂失: the holder's identity checked, the card on hold (LOST) and blacklisted."""
        card = actions.card_report_loss(
            actor=self.actor(), card=self._card(), **self._data(IdentitySerializer)
        )
        return self._answer(card)

    @extend_schema(request=IdentitySerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"], url_path="unreport-loss")
    def unreport_loss(self, request, pk=None):
        """解挂: the card is active again, its hold removed."""
        card = actions.card_unreport_loss(
            actor=self.actor(), card=self._card(), **self._data(IdentitySerializer)
        )
        return self._answer(card)

    @extend_schema(request=ReplaceSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def replace(self, request, pk=None):
        """补换卡: the old card is replaced (permanent blacklist entry). With new_chip_serial the new card is
        answered (201, active); without, the old card is answered and a replacement application waits for
        production."""
        data = self._data(ReplaceSerializer)
        old = self._card()
        card = actions.card_replace(actor=self.actor(), card=old, **data)
        return self._answer(card, status=201 if card.pk != old.pk else 200)

    @extend_schema(request=CancelSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """注销 with a reason: permanent."""
        return self._answer(
            actions.card_cancel(actor=self.actor(), card=self._card(), **self._data(CancelSerializer))
        )

    @extend_schema(request=NoteSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"], url_path="death-correct")
    def death_correct(self, request, pk=None):
        """A wrong death record: the card is restored (active, off the blacklist); the note says why."""
        note = self._data(NoteSerializer)["note"]
        return self._answer(actions.death_record_correct(actor=self.actor(), card=self._card(), note=note))

    @extend_schema(request=NoteSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def blacklist(self, request, pk=None):
        """A manual blacklist entry for this physical card (mandatory note)."""
        note = self._data(NoteSerializer)["note"]
        return self._answer(actions.card_blacklist_add(actor=self.actor(), card=self._card(), note=note))

    @extend_schema(request=NoteSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def unblacklist(self, request, pk=None):
        """Remove the card's manual blacklist entry (mandatory note)."""
        note = self._data(NoteSerializer)["note"]
        return self._answer(actions.card_blacklist_remove(actor=self.actor(), card=self._card(), note=note))

    @extend_schema(
        parameters=[OpenApiParameter("as", OpenApiTypes.STR, enum=["json", "xlsx", "pdf"])],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        """The card's complete case history across the cards it replaced and that replaced it (?as=xlsx|pdf)."""
        from cards.api.cards import CardEventSerializer

        card = self._card()
        events = card_timeline(card=card)
        fmt = request.query_params.get("as", "json")
        if fmt == "json":
            return Response(CardEventSerializer(events, many=True).data)
        if fmt not in ("xlsx", "pdf"):
            raise DomainError(
                _("The file format must be xlsx or pdf."), code="bad_format", detail={"field": "as"}
            )
        return timeline_response(
            events,
            title=gettext("Case history of card %(card)s") % {"card": card},
            fmt=fmt,
            user=request.user,
            subject=str(card),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, required=True),
            OpenApiParameter("date_to", OpenApiTypes.DATE, required=True),
            OpenApiParameter("region", OpenApiTypes.STR, description="Region code prefix within your scope"),
            OpenApiParameter("period", OpenApiTypes.STR, enum=["month", "day"]),
        ],
        responses=LifecycleCountSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="lifecycle-counts")
    def lifecycle_counts(self, request):
        """Losses, replacements and cancellations per region and period (your region and below)."""
        try:
            date_from = dt.date.fromisoformat(request.query_params.get("date_from", ""))
            date_to = dt.date.fromisoformat(request.query_params.get("date_to", ""))
        except ValueError:
            raise DomainError(
                _("date_from and date_to are dates like 2026-11-01."),
                code="bad_date",
                detail={"field": "date_from"},
            ) from None
        period = request.query_params.get("period", "month")
        if period not in ("month", "day"):
            raise DomainError(_("The period is month or day."), code="bad_period", detail={"field": "period"})
        scope = user_scope_prefix(request.user) or "-"
        wanted = request.query_params.get("region", "").rstrip("0") or scope
        prefix = wanted if wanted.startswith(scope) else scope
        rows = card_lifecycle_counts(
            region_prefix=prefix, date_from=date_from, date_to=date_to, period=period
        )
        return Response(LifecycleCountSerializer(rows, many=True).data)


# --- Death records ----------------------------------------------------------------------------------------


class DeathRecordSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField(help_text="Masked")
    id_number = serializers.SerializerMethodField(help_text="Masked")

    class Meta:
        model = DeathRecord
        fields = ["id", "registry", "record_id", "name", "id_number", "died_on", "status", "cards_cancelled",
                  "region", "received_at", "corrected_at", "correction_note"]  # fmt: skip
        read_only_fields = fields

    def get_name(self, obj) -> str:
        return mask_name(obj.name)

    def get_id_number(self, obj) -> str:
        return mask_id_number(obj.id_number)


class DeathRecordInSerializer(serializers.Serializer):
    registry = serializers.CharField(max_length=50)
    record_id = serializers.CharField(max_length=64)
    id_number = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    died_on = serializers.DateField()


class DeathRecordViewSet(
    ActionPermissionsMixin,
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Death registry records received here and what each did; POST receives one record (idempotent by
    registry + record id): the holder's active and lost cards are cancelled."""

    queryset = DeathRecord.objects.select_related("region")
    serializer_class = DeathRecordSerializer
    filterset_fields = ["status", "registry", "record_id"]
    export_columns = DeathRecordAdmin.export_columns
    export_title = _("Death records")
    action_permissions = {"create": ("cards.add_deathrecord", "cards.change_card")}

    @extend_schema(request=DeathRecordInSerializer, responses={201: DeathRecordSerializer})
    def create(self, request):
        data = DeathRecordInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.death_record_apply(actor=self.actor(), **data.validated_data)
        record = self.get_queryset().get(
            registry=data.validated_data["registry"].strip(),
            record_id=data.validated_data["record_id"].strip(),
        )
        return Response(DeathRecordSerializer(record).data, status=201)


ROUTES: list = [("death-records", DeathRecordViewSet, "death-record")]
