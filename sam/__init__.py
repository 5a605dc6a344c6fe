"""SAM applications, plans, stock, binding, freeze/unfreeze/cancel (the SAM issue fills it)."""
