"""Errors raised by token verification."""

from __future__ import annotations


class InvalidToken(Exception):
    """A request's token was missing or not acceptable (RFC 6750 §3.1 error codes).

    `description` is for people and never contains the token itself.
    """

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
