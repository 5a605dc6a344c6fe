"""Filtersets of the terminals app (filled by its issue; the file is here so every app has the same shape)."""
