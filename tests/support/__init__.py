"""Shared helpers for the TINpass test suite."""
