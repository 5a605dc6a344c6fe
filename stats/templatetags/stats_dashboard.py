"""Template tags of the dashboard on the admin's home page."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def stats_dashboard_allowed(context) -> bool:
    request = context.get("request")
    return bool(request and request.user.has_perm("stats.view_dailycount"))
