"""The demo plan, generated plans and CSV import."""
