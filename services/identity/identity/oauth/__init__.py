"""OAuth 2.0 and OpenID Connect protocol code, one module per specification.

Nothing here imports FastAPI; `bridge` is the one adapter to Starlette.
"""
