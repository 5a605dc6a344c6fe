"""Tasks of the vendors app.

None yet: a filing's validity is computed from its dates when read (no expiry job), and the journal rows
that carry filings down and actual use up are moved by the Exchange issue's sync tasks.
"""
