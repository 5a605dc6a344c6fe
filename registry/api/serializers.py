"""Serializers of the registry's staff API."""

from rest_framework import serializers

from registry.models import Region, RegistrationCentre


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name", "full_name", "level", "parent"]


class CentreSerializer(serializers.ModelSerializer):
    region_name = serializers.CharField(source="region.full_name", read_only=True)
    key_fingerprint = serializers.CharField(read_only=True)

    class Meta:
        model = RegistrationCentre
        fields = [
            "id",
            "tier",
            "region",
            "region_name",
            "name",
            "contact_person",
            "phone",
            "address",
            "head",
            "status",
            "status_reason",
            "base_url",
            "public_key",
            "key_fingerprint",
            "registered_at",
            "changed_at",
        ]
        read_only_fields = ["tier", "status", "status_reason", "registered_at", "changed_at"]


class CentreUpdateSerializer(CentreSerializer):
    class Meta(CentreSerializer.Meta):
        read_only_fields = [*CentreSerializer.Meta.read_only_fields, "region"]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
