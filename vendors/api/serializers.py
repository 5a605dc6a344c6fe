"""Serializers of the vendors app's staff API."""

from rest_framework import serializers

from vendors.choices import ActualUseGrouping
from vendors.models import ActualUse, CardMakerFiling, FiledProduct, Manufacturer

STATUS_FIELDS = ["status", "status_reason", "status_changed_at", "registered_at", "changed_at"]


class ManufacturerSerializer(serializers.ModelSerializer):
    region_name = serializers.CharField(source="region.full_name", read_only=True)

    class Meta:
        model = Manufacturer
        fields = [
            "id",
            "name",
            "code",
            "region",
            "region_name",
            "address",
            "contact_person",
            "phone",
            *STATUS_FIELDS,
        ]
        read_only_fields = STATUS_FIELDS
        extra_kwargs = {"code": {"validators": []}}  # the action answers duplicates with a stable code

    def get_fields(self):
        fields = super().get_fields()
        if isinstance(self.instance, Manufacturer):
            fields["code"].read_only = True  # the natural key never changes
        return fields


class FiledProductSerializer(serializers.ModelSerializer):
    manufacturer = serializers.SlugRelatedField(
        slug_field="code", queryset=Manufacturer.objects.all(), help_text="The manufacturer's USCC code"
    )
    manufacturer_name = serializers.CharField(source="manufacturer.name", read_only=True)
    valid_today = serializers.SerializerMethodField()

    class Meta:
        model = FiledProduct
        fields = [
            "id",
            "manufacturer",
            "manufacturer_name",
            "product_type",
            "name",
            "model",
            "filing_number",
            "filing_date",
            "valid_until",
            "test_report",
            "valid_today",
            *STATUS_FIELDS,
        ]
        read_only_fields = STATUS_FIELDS
        extra_kwargs = {"filing_number": {"validators": []}}

    def get_fields(self):
        fields = super().get_fields()
        if isinstance(self.instance, FiledProduct):
            fields["filing_number"].read_only = True
            fields["manufacturer"].read_only = True
        return fields

    def get_valid_today(self, obj) -> bool:
        return obj.is_valid_on()


class ActualUseSerializer(serializers.ModelSerializer):
    institution_code = serializers.CharField(
        write_only=True, help_text="USCC code of a medical or financial institution (shown on reads too)"
    )
    institution_kind = serializers.CharField(read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    region_name = serializers.CharField(source="region.full_name", read_only=True)
    product = serializers.SlugRelatedField(
        slug_field="filing_number",
        queryset=FiledProduct.objects.all(),
        help_text="The product's filing number",
    )
    product_name = serializers.CharField(source="product.name", read_only=True)
    product_model = serializers.CharField(source="product.model", read_only=True)
    product_type = serializers.CharField(source="product.product_type", read_only=True)
    manufacturer_name = serializers.CharField(source="product.manufacturer.name", read_only=True)

    class Meta:
        model = ActualUse
        fields = [
            "id",
            "uid",
            "institution_code",
            "institution_kind",
            "institution_name",
            "region",
            "region_name",
            "product",
            "product_name",
            "product_model",
            "product_type",
            "manufacturer_name",
            "quantity",
            "since",
            "note",
            *STATUS_FIELDS,
        ]
        read_only_fields = ["uid", "region", *STATUS_FIELDS]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["institution_code"] = instance.institution.code
        return data

    def get_fields(self):
        fields = super().get_fields()
        if isinstance(self.instance, ActualUse):
            fields["institution_code"].read_only = True
            fields["product"].read_only = True
        return fields


class ActualUseFigureSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    quantity = serializers.IntegerField()
    registrations = serializers.IntegerField()
    institutions = serializers.IntegerField()


class ActualUseFiguresQuerySerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=ActualUseGrouping.choices, default=ActualUseGrouping.PRODUCT_TYPE)


class CardMakerFilingSerializer(serializers.ModelSerializer):
    region_name = serializers.CharField(source="region.full_name", read_only=True)
    has_valid_filing = serializers.BooleanField(read_only=True)
    matched_by = serializers.SerializerMethodField()

    class Meta:
        model = CardMakerFiling
        fields = ["id", "name", "code", "region", "region_name", "status", "has_valid_filing", "matched_by"]
        read_only_fields = fields

    def get_matched_by(self, obj) -> str | None:
        if obj.filing_manufacturer_by_code:
            return "code"
        return "name" if obj.has_valid_filing else None
