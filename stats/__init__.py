"""Supervision figures, dashboards and reports: reads every app, owns only aggregates (the Statistics issue fills it)."""
