"""Request and answer shapes of the hospital API (validation only; the work is in actions and selectors)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cards.api.holders import ContactSerializer
from cards.choices import DocumentType

MAX_BATCH = 1000


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text=_("Stable error code, safe to branch on (see docs/hospital-api.md).")
    )
    message_zh = serializers.CharField()
    message_en = serializers.CharField()
    detail = serializers.JSONField(allow_null=True)


class IdentityVerifySerializer(serializers.Serializer):
    id_number = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=60, required=False, allow_blank=True)
    document_type = serializers.ChoiceField(choices=DocumentType.choices, default=DocumentType.ID_CARD)


class IdentityResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField(
        help_text=_("Format, check digit, birth date and region code are valid.")
    )
    problem = serializers.CharField(allow_null=True, help_text=_("Why it is not valid (an error code)."))
    known_here = serializers.BooleanField(
        help_text=_("A holder with this document is registered on this node.")
    )
    name_matches = serializers.BooleanField(
        allow_null=True, help_text=_("Whether the name sent is the holder's; null when no name was sent.")
    )


class CardCheckSerializer(serializers.Serializer):
    card_no = serializers.CharField()
    chip = serializers.CharField(allow_blank=True)
    code = serializers.CharField(
        help_text=_(
            "active, expired, not_issued, lost, cancelled, replaced, "
            "blacklisted_card, blacklisted_person, unknown_here or invalid."
        )
    )
    usable = serializers.BooleanField()


class CardStatusSerializer(CardCheckSerializer):
    message_zh = serializers.CharField()
    message_en = serializers.CharField()
    card_status = serializers.CharField(allow_null=True)
    status_since = serializers.DateTimeField(allow_null=True)
    expires_on = serializers.DateField(allow_null=True)
    list_number = serializers.IntegerField(help_text=_("The blacklist number the card was checked against."))
    checked_at = serializers.DateTimeField()


class CardPairSerializer(serializers.Serializer):
    card_no = serializers.CharField(max_length=40)
    chip = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class VerifyBatchSerializer(serializers.Serializer):
    cards = CardPairSerializer(many=True, allow_empty=False, max_length=MAX_BATCH)


class VerifyBatchResultSerializer(serializers.Serializer):
    list_number = serializers.IntegerField()
    checked_at = serializers.DateTimeField()
    counts = serializers.DictField(child=serializers.IntegerField())
    results = CardCheckSerializer(many=True)


class CardIssuedSerializer(serializers.Serializer):
    id_number = serializers.CharField(
        max_length=40, help_text=_("The holder's document number (= card number).")
    )
    document_type = serializers.ChoiceField(choices=DocumentType.choices, default=DocumentType.ID_CARD)
    chip_serial = serializers.CharField(max_length=40)
    application_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class CardIssuedResultSerializer(serializers.Serializer):
    card_no = serializers.CharField(help_text=_("Masked."))
    chip_serial = serializers.CharField()
    status = serializers.CharField()
    expires_on = serializers.DateField(allow_null=True)
    application_number = serializers.CharField(allow_blank=True)


class CardStatusChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=[("report_loss", _("Report loss")), ("unreport_loss", _("Revoke loss"))]
    )
    chip = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    document_type = serializers.ChoiceField(choices=DocumentType.choices, default=DocumentType.ID_CARD)
    document_number = serializers.CharField(max_length=40, help_text=_("The document the holder showed."))
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ReplacementSerializer(serializers.Serializer):
    chip = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The chip serial of the card being replaced."),
    )
    reason = serializers.ChoiceField(
        choices=[("lost", _("Lost")), ("damaged", _("Damaged")), ("data_changed", _("Data changed"))]
    )
    new_chip_serial = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The new card's chip serial when it was written on site."),
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CardAnswerSerializer(serializers.Serializer):
    card_no = serializers.CharField(help_text=_("Masked."))
    chip_serial = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    expires_on = serializers.DateField(allow_null=True)


class ResidentPatchSerializer(serializers.Serializer):
    address1_type = serializers.CharField(max_length=1, required=False, allow_blank=True)
    address1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address2_type = serializers.CharField(max_length=1, required=False, allow_blank=True)
    address2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone1 = serializers.CharField(max_length=30, required=False, allow_blank=True)
    phone2 = serializers.CharField(max_length=30, required=False, allow_blank=True)
    contacts = ContactSerializer(many=True, required=False, max_length=3)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {
                    field: _("This field cannot be changed through the hospital API.")
                    for field in sorted(unknown)
                }
            )
        if not attrs:
            raise serializers.ValidationError(_("Send at least one field to change."))
        return attrs


class ResidentAnswerSerializer(serializers.Serializer):
    changed = serializers.ListField(child=serializers.CharField())
    phone1 = serializers.CharField(allow_blank=True, help_text=_("Masked."))
    address1 = serializers.CharField(allow_blank=True, help_text=_("Masked."))


class CardPatchSerializer(serializers.Serializer):
    chip = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    expires_on = serializers.DateField(required=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {
                    field: _("This field cannot be changed through the hospital API.")
                    for field in sorted(unknown)
                }
            )
        if "expires_on" not in attrs:
            raise serializers.ValidationError(_("Send at least one field to change."))
        return attrs


class ListAddSerializer(serializers.Serializer):
    type = serializers.CharField(help_text=_("card, person or sam."))
    reason = serializers.CharField()
    id = serializers.CharField(
        help_text=_("The subject: 16 hex digits (docs/lists.md says how it is derived).")
    )


class ListDocumentSerializer(serializers.Serializer):
    format = serializers.CharField()
    list = serializers.CharField()
    number = serializers.IntegerField()
    base = serializers.IntegerField(allow_null=True)
    issued_at = serializers.DateTimeField()
    next_update = serializers.DateTimeField()
    node = serializers.CharField()
    region_prefix = serializers.CharField(allow_blank=True)
    adds = ListAddSerializer(many=True)
    removes = serializers.ListField(child=serializers.CharField())
    signature = serializers.CharField(
        help_text=_("Ed25519 signature (base64) by the node key of the JSON without it.")
    )


class CardUseRecordSerializer(serializers.Serializer):
    card_no = serializers.CharField(max_length=40)
    chip_serial = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    used_at = serializers.CharField(max_length=40, help_text=_("ISO 8601 time of the use."))
    scenario = serializers.CharField(max_length=20)


class CardUseBatchSerializer(serializers.Serializer):
    batch_id = serializers.CharField(max_length=64)
    records = CardUseRecordSerializer(many=True, allow_empty=False, max_length=200_000)


class CardUseResultSerializer(serializers.Serializer):
    batch_id = serializers.CharField()
    institution = serializers.CharField()
    records = serializers.IntegerField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())
    resent = serializers.BooleanField()
    received_at = serializers.DateTimeField()
