"""Serializers of the institutions app's APIs."""

from rest_framework import serializers

from institutions.models import ApiCredential, CardMaker, FinancialInstitution, MedicalInstitution

ORGANISATION_FIELDS = [
    "id",
    "name",
    "code",
    "region",
    "region_name",
    "address",
    "contact_person",
    "phone",
    "head",
    "status",
    "status_reason",
    "registered_at",
    "changed_at",
]
READ_ONLY = ["status", "status_reason", "registered_at", "changed_at"]


class OrganisationSerializer(serializers.ModelSerializer):
    region_name = serializers.CharField(source="region.full_name", read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        if (
            self.instance is not None
            and not isinstance(self.instance, (list, tuple))
            and hasattr(self.instance, "pk")
        ):
            fields["code"].read_only = True  # the code is the natural key: it never changes
        return fields


class MedicalInstitutionSerializer(OrganisationSerializer):
    class Meta:
        model = MedicalInstitution
        fields = [*ORGANISATION_FIELDS, "licence_number", "nature", "category", "grade"]
        read_only_fields = READ_ONLY
        extra_kwargs = {"code": {"validators": []}}


class CardMakerSerializer(OrganisationSerializer):
    class Meta:
        model = CardMaker
        fields = [*ORGANISATION_FIELDS, "licence_number"]
        read_only_fields = READ_ONLY
        extra_kwargs = {"code": {"validators": []}}


class FinancialInstitutionSerializer(OrganisationSerializer):
    class Meta:
        model = FinancialInstitution
        fields = [*ORGANISATION_FIELDS, "kind", "bank_code"]
        read_only_fields = READ_ONLY
        extra_kwargs = {"code": {"validators": []}}


class ApiCredentialSerializer(serializers.ModelSerializer):
    institution_code = serializers.CharField(source="institution.code", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)

    class Meta:
        model = ApiCredential
        fields = [
            "id",
            "key_id",
            "institution_code",
            "institution_name",
            "label",
            "status",
            "created_at",
            "expires_at",
            "revoked_at",
            "revoked_reason",
            "last_used_at",
        ]
        read_only_fields = fields


class IssuedCredentialSerializer(ApiCredentialSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once; store it safely.")

    class Meta(ApiCredentialSerializer.Meta):
        fields = [*ApiCredentialSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class CredentialIssueSerializer(serializers.Serializer):
    institution_code = serializers.CharField()
    valid_days = serializers.IntegerField(min_value=1, max_value=3650, default=365)
    label = serializers.CharField(required=False, allow_blank=True, default="")


class CredentialRotateSerializer(serializers.Serializer):
    valid_days = serializers.IntegerField(min_value=1, max_value=3650, default=365)
    grace_days = serializers.IntegerField(min_value=0, max_value=90, default=0)


class WhoAmISerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Unified social credit code")
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["medical", "financial"])
    region = serializers.CharField(help_text="GB/T 2260 code")
    region_name = serializers.CharField()
    key_id = serializers.CharField()
    key_expires_at = serializers.DateTimeField()
