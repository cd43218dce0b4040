"""Database, models, settings, the access trail and problems."""
