"""Filtersets of the cards app, one module per area."""
