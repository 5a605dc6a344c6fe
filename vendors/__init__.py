"""Filed manufacturers and products, actual-use registrations (the Vendors issue fills it)."""
