"""Medical institutions, card makers, financial institutions and hospitals' API credentials (the Institutions issue fills it)."""
