"""Everything that crosses a node boundary: tier sync, file bundles, partner interfaces (the Exchange issue fills it)."""
