"""Staff API of the cards app: cards (masked), their case history, collection with receipt, on-site issuance."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cards import actions
from cards.admin.cards import CARD_COLUMNS
from cards.api.applications import ActionPermissionsMixin, service_point_by_code
from cards.api.maintenance import CardMaintenanceViewMixin
from cards.choices import DocumentType
from cards.filtersets.cards import CardFilterSet
from cards.models import Application, Card, CardEvent
from cards.receipts import collection_receipt_response
from cards.selectors.cards import CARD_RELATED, card_timeline
from registry.api.mixins import ExportMixin, ScopedViewSetMixin
from registry.api.serializers import ReasonSerializer
from registry.errors import NotFoundError
from registry.protection import mask_id_number
from registry.scope import scope_queryset


class CardSerializer(serializers.ModelSerializer):
    card_no = serializers.SerializerMethodField(help_text="Masked")
    holder_name = serializers.CharField(source="resident.masked_name", read_only=True)
    holder_document = serializers.CharField(source="resident.masked_document_number", read_only=True)
    region_name = serializers.CharField(source="region.full_name", read_only=True)
    issuing_point_code = serializers.SerializerMethodField()
    issuing_point_name = serializers.SerializerMethodField()
    application = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = Card
        fields = [
            "id",
            "card_no",
            "chip_serial",
            "holder_name",
            "holder_document",
            "status",
            "status_changed_at",
            "status_reason",
            "replaces",
            "region",
            "region_name",
            "issuing_point_code",
            "issuing_point_name",
            "application",
            "issued_at",
            "collected_at",
            "expires_on",
            "created_at",
        ]
        read_only_fields = fields

    def get_card_no(self, obj) -> str:
        return mask_id_number(obj.card_no)

    def get_issuing_point_code(self, obj) -> str:
        return getattr(obj.issuing_point, "code", "")

    def get_issuing_point_name(self, obj) -> str:
        return getattr(obj.issuing_point, "name", "")


class CardEventSerializer(serializers.ModelSerializer):
    card = serializers.SerializerMethodField(help_text="Masked card number / chip serial")
    application = serializers.SlugRelatedField(slug_field="number", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = CardEvent
        fields = [
            "id",
            "at",
            "kind",
            "kind_display",
            "actor_label",
            "channel",
            "institution_code",
            "institution_name",
            "region",
            "reason",
            "application",
            "card",
            "data",
        ]
        read_only_fields = fields

    def get_card(self, obj) -> str:
        return str(obj.card) if obj.card_id else ""


class CollectSerializer(serializers.Serializer):
    identity_document_type = serializers.ChoiceField(
        choices=DocumentType.choices, default=DocumentType.ID_CARD
    )
    identity_document_number_seen = serializers.CharField(
        max_length=40, help_text="The number on the document shown; compared, never stored"
    )
    collected_by_guardian = serializers.BooleanField(default=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class OnsiteAllocateSerializer(serializers.Serializer):
    application = serializers.CharField(help_text="Application number (approved, counter / kiosk / on-site)")
    issuing_point = serializers.CharField(help_text="Unified social credit code of the issuing point")


class ChipSerialSerializer(serializers.Serializer):
    chip_serial = serializers.CharField(max_length=40)


class CardViewSet(
    CardMaintenanceViewMixin,
    ActionPermissionsMixin,
    ExportMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Cards in the caller's region, masked: filter (incl. collected / uncollected), export, case history,
    collection with the identity check and its receipt, and the server side of on-site issuance."""

    queryset = Card.objects.select_related(*CARD_RELATED)
    serializer_class = CardSerializer
    filterset_class = CardFilterSet
    ordering_fields = ["created_at", "collected_at", "status", "expires_on"]
    export_columns = CARD_COLUMNS
    export_title = _("Cards")
    action_permissions = {
        "collect": ("cards.change_card",),
        "onsite_allocate": ("cards.add_card", "cards.change_card"),
        "onsite_complete": ("cards.change_card",),
        "onsite_abort": ("cards.change_card",),
        **CardMaintenanceViewMixin.maintenance_permissions,
    }

    def _card(self) -> Card:
        return self.get_object()

    @extend_schema(responses=CardEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The complete case history: the card's events, those of the cards it replaced and that replaced it,
        and those of its holder's applications, oldest first."""
        return Response(CardEventSerializer(card_timeline(card=self._card()), many=True).data)

    @extend_schema(request=CollectSerializer, responses=CardSerializer)
    @action(detail=True, methods=["post"])
    def collect(self, request, pk=None):
        """领卡: record the identity check and hand the card over (it becomes active)."""
        data = CollectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = actions.card_collect(actor=self.actor(), card=self._card(), **data.validated_data)
        return Response(CardSerializer(self.get_queryset().get(pk=card.pk)).data)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def receipt(self, request, pk=None):
        """The collection receipt (领卡签收单), personal data masked."""
        return collection_receipt_response(self._card())

    @extend_schema(request=OnsiteAllocateSerializer, responses={201: CardSerializer})
    @action(detail=False, methods=["post"], url_path="onsite-allocate")
    def onsite_allocate(self, request):
        """On-site issuance, step 1: a card (ISSUING) for an approved counter / kiosk / on-site application."""
        data = OnsiteAllocateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        number = data.validated_data["application"]
        application = scope_queryset(Application.objects.all(), request.user).filter(number=number).first()
        if application is None:
            raise NotFoundError(
                _("No application %(number)s in your region."),
                {"number": number},
                code="application_not_found",
            )
        institution = service_point_by_code(request.user, data.validated_data["issuing_point"])
        card = actions.card_issue_onsite_allocate(
            actor=self.actor(), application=application, institution=institution
        )
        return Response(CardSerializer(self.get_queryset().get(pk=card.pk)).data, status=201)

    @extend_schema(request=ChipSerialSerializer, responses=CardSerializer)
    @action(detail=True, methods=["post"], url_path="onsite-complete")
    def onsite_complete(self, request, pk=None):
        """On-site issuance, step 2: the chip is written; record its serial, the card is active and handed over."""
        data = ChipSerialSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = actions.card_issue_onsite_complete(
            actor=self.actor(), card=self._card(), chip_serial=data.validated_data["chip_serial"]
        )
        return Response(CardSerializer(self.get_queryset().get(pk=card.pk)).data)

    @extend_schema(request=ReasonSerializer, responses=CardSerializer)
    @action(detail=True, methods=["post"], url_path="onsite-abort")
    def onsite_abort(self, request, pk=None):
        """On-site issuance failed (the chip could not be written): the allocated card is cancelled."""
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        card = actions.card_issue_onsite_abort(
            actor=self.actor(), card=self._card(), reason=reason.validated_data["reason"]
        )
        return Response(CardSerializer(self.get_queryset().get(pk=card.pk)).data)


ROUTES: list = [("cards", CardViewSet, "card")]
