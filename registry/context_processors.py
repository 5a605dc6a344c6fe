"""Template context: which node this is, for the admin header."""

from django.conf import settings

from registry.choices import Tier


def node(request) -> dict:
    return {
        "hc_tier": settings.HC_TIER,
        "hc_tier_label": Tier(settings.HC_TIER).label,
        "hc_region": settings.HC_REGION,
    }
