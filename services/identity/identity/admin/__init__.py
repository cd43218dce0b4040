"""Delegated administration: organizations administer themselves (OneHealthPort model)."""
