"""Admin of the cards app, one module per area; importing them registers the ModelAdmins."""

from cards.admin import applications, blacklist, cards, holders, maintenance, production, stock, uses  # noqa: F401
