"""Serializers of the sam staff API: read serializers of the models, input serializers of the actions."""

from rest_framework import serializers

from sam.choices import SamShipmentStatus, TerminalType, UseScenario
from sam.models import Sam, SamApplication, SamPlan, SamShipment, SamStockIn, SamStockOut


class SamApplicationSerializer(serializers.ModelSerializer):
    institution_code = serializers.CharField(source="institution.code", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    plan = serializers.CharField(source="plan.number", read_only=True, allow_null=True)

    class Meta:
        model = SamApplication
        fields = [
            "id",
            "number",
            "institution_code",
            "institution_name",
            "region",
            "quantity",
            "approved_quantity",
            "terminal_type",
            "scenario",
            "purpose",
            "status",
            "status_reason",
            "status_changed_at",
            "plan",
            "submitted_at",
            "submitted_by",
        ]
        read_only_fields = fields


class SamApplicationCreateSerializer(serializers.Serializer):
    institution_code = serializers.CharField(
        help_text="Unified social credit code of the medical institution"
    )
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    terminal_type = serializers.ChoiceField(choices=TerminalType.choices)
    scenario = serializers.ChoiceField(choices=UseScenario.choices)
    purpose = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SamDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "cut", "reject"])
    approved_quantity = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SamPlanSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent.number", read_only=True, allow_null=True)
    card_maker = serializers.CharField(source="card_maker.code", read_only=True, allow_null=True)
    card_maker_name = serializers.CharField(source="card_maker.name", read_only=True, allow_null=True)
    success_rate = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = SamPlan
        fields = [
            "id",
            "number",
            "level",
            "region",
            "parent",
            "card_maker",
            "card_maker_name",
            "quantity",
            "approved_quantity",
            "status",
            "status_reason",
            "status_changed_at",
            "produced_count",
            "failed_count",
            "success_rate",
            "created_at",
            "note",
        ]
        read_only_fields = fields


class AggregateSerializer(serializers.Serializer):
    card_maker = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Card maker code (the ministry's plan only)"
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CompleteSerializer(serializers.Serializer):
    failed = serializers.IntegerField(min_value=0, default=0)


class SamSerializer(serializers.ModelSerializer):
    institution_code = serializers.CharField(source="institution.code", read_only=True, allow_null=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True, allow_null=True)

    class Meta:
        model = Sam
        fields = [
            "id",
            "serial",
            "status",
            "status_reason",
            "status_changed_at",
            "region",
            "institution_code",
            "institution_name",
            "terminal_type",
            "terminal_number",
            "scenario",
            "bound_at",
            "use_count",
            "last_used_at",
        ]
        read_only_fields = fields


class BindSerializer(serializers.Serializer):
    terminal_type = serializers.ChoiceField(choices=TerminalType.choices)
    terminal_number = serializers.CharField(max_length=40)
    scenario = serializers.ChoiceField(
        choices=UseScenario.choices, required=False, allow_blank=True, default=""
    )


class UseReportSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1)


class SamStockInSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.number", read_only=True, allow_null=True)

    class Meta:
        model = SamStockIn
        fields = [
            "id",
            "batch_number",
            "plan",
            "region",
            "quantity",
            "responsible_unit",
            "responsible_person",
            "at",
        ]
        read_only_fields = fields


class SamStockInCreateSerializer(serializers.Serializer):
    plan = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Production plan number"
    )
    serials = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1)
    quantity = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    responsible_unit = serializers.CharField(max_length=100)
    responsible_person = serializers.CharField(max_length=50)
    batch_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class SamStockOutSerializer(serializers.ModelSerializer):
    institution_code = serializers.CharField(source="institution.code", read_only=True, allow_null=True)
    shipment = serializers.SerializerMethodField()

    class Meta:
        model = SamStockOut
        fields = [
            "id",
            "batch_number",
            "from_region",
            "region",
            "institution_code",
            "quantity",
            "responsible_unit",
            "responsible_person",
            "at",
            "shipment",
        ]
        read_only_fields = fields

    def get_shipment(self, obj) -> dict | None:
        shipment = getattr(obj, "shipment", None)
        return {"id": shipment.pk, "status": shipment.status} if shipment else None


class SamStockOutCreateSerializer(serializers.Serializer):
    institution_code = serializers.CharField(required=False, allow_blank=True, default="")
    region = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Region code below"
    )
    serials = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1)
    quantity = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    responsible_unit = serializers.CharField(max_length=100)
    responsible_person = serializers.CharField(max_length=50)
    batch_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    waybill = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    courier = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")


class SamShipmentSerializer(serializers.ModelSerializer):
    stock_out = serializers.CharField(source="stock_out.batch_number", read_only=True)
    region = serializers.CharField(source="stock_out.region_id", read_only=True)
    institution_code = serializers.CharField(
        source="stock_out.institution.code", read_only=True, allow_null=True
    )
    quantity = serializers.IntegerField(source="stock_out.quantity", read_only=True)

    class Meta:
        model = SamShipment
        fields = [
            "id",
            "stock_out",
            "region",
            "institution_code",
            "quantity",
            "waybill",
            "courier",
            "status",
            "status_changed_at",
            "signed_by",
            "signed_at",
        ]
        read_only_fields = fields


class SamShipmentUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=SamShipmentStatus.choices, required=False, allow_blank=True, default=""
    )
    waybill = serializers.CharField(max_length=40, required=False, allow_null=True, default=None)
    courier = serializers.CharField(max_length=50, required=False, allow_null=True, default=None)
    signed_by = serializers.CharField(max_length=50, required=False, allow_null=True, default=None)
