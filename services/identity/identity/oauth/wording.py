"""OAuth error descriptions in plain words, at every OAuth endpoint.

Authlib's descriptions are written for its own developers: a Python list's repr
(`The client cannot authenticate with methods: ['client_secret_basic', ...]`),
`'grant_type=client_credentials'`, or none at all for an unsupported grant or
response type. `in_plain_words(error)` rewrites them, before any answer is built
(`TinpassAuthorizationServer.handle_error_response`, the authorization and logout
error pages), into sentences an integrator can act on; TINpass's own descriptions
pass through. Whatever the source, no list repr survives (`_no_reprs`), and the
text stays within RFC 6749's error_description characters.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable

from authlib.oauth2.rfc6749 import OAuth2Error

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
RESPONSE_TYPE = re.compile(r"[a-z_]+(?: [a-z_]+)*")
LIST_REPR = re.compile(r"\[(?:\s*'[^'\[\]]*'\s*,?)*\s*\]")


def plain_list(items: Iterable[str], joiner: str = "or") -> str:
    """`a`, `a or b`, `a, b or c`."""
    words = [str(i) for i in items]
    if len(words) <= 1:
        return "".join(words) or "none"
    return f"{', '.join(words[:-1])} {joiner} {words[-1]}"


def _listed(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return [text.strip()]
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _authentication(match: re.Match[str]) -> str:
    return (
        "The client could not be authenticated: check its client id and credentials, "
        f"sent the way it is registered to authenticate ({plain_list(_listed(match[1]))})."
    )


RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"The client cannot authenticate with methods?: (.+)"), _authentication),
    (
        re.compile(r"The client is not authorized to use 'grant_type=(\S+)'"),
        lambda m: f"This client is not registered for the {m[1].replace('_', ' ')} grant.",
    ),
    (
        re.compile(r"The client is not authorized to use 'response_type=(\S+)'"),
        lambda m: f"This client is not registered for the response type {m[1]}.",
    ),
    (
        re.compile(r"The response type '(.*)' is not supported by the server\."),
        lambda m: f"The response type {m[1]} is not supported: use code.",
    ),
    (
        re.compile(r"Redirect URI (.*) is not supported by client\."),
        lambda m: "This redirect URI is not registered for the client.",
    ),
]


def _no_reprs(text: str) -> str:
    return LIST_REPR.sub(lambda m: plain_list(_listed(m[0])), text)


def _described(error: OAuth2Error) -> str:
    """The description an error would carry, including those Authlib builds late."""
    if error.error == "unsupported_grant_type":
        shown = getattr(error, "grant_type", None)
        return (
            f"The grant type {shown} is not supported: use {plain_list(GRANT_TYPES)}."
            if shown
            else f"A grant type is needed: {plain_list(GRANT_TYPES)}."
        )
    if error.error == "unsupported_response_type":
        # Authlib passes its sentence as the response type and the type as the
        # description: whichever is a bare response type is the one to show.
        named = (str(getattr(error, "response_type", "")), str(error.description or ""))
        shown = next((n for n in named if RESPONSE_TYPE.fullmatch(n)), "asked for")
        return f"The response type {shown} is not supported: use code."
    return str(error.description or "")


def in_plain_words(error: OAuth2Error) -> OAuth2Error:
    """Rewrite `error.description` in place (and return the error)."""
    text = _described(error)
    for pattern, rewrite in RULES:
        if match := pattern.fullmatch(text):
            text = rewrite(match)
            break
    text = _no_reprs(text)
    allowed = (c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)
    error.description = "".join(allowed)
    return error
