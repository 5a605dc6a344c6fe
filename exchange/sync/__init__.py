"""Tier-to-tier sync: signed journal bundles up, filings and registries down, file mode, reconciliation."""
