"""The identity service's HTTP layer: FastAPI routes over the protocol code."""
