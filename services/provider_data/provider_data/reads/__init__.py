"""The read paths (SQLAlchemy Core) and the reference-data cache."""
