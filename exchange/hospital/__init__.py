"""The hospital-facing interfaces (request-signed): card checks, issuance and status sync, lists, card use,
plus the bank, regional platform, personal self-query and electronic health card interfaces."""
