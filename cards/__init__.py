"""Holders, applications, production, stock, the card and its lifecycle, card use (the Cards issues fill it)."""
