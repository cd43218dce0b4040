"""Acting as a browser and a relying party against the identity service."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jws


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return cls(verifier, challenge)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"__action__": values.get("action", "")})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1][values["name"]] = values.get("value", "")


def form_fields(html: str, index: int = 0) -> dict[str, str]:
    """The named inputs (with their values) of the page's n-th form."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms[index]


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_url(client_id: str, redirect_uri: str, pkce: Pkce | None, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email offline_access eligibility:read claims:read",
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
    }
    if pkce:
        params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    params.update(extra)
    return "/authorize?" + urlencode(params)


async def submit_login(
    browser: httpx.AsyncClient, page: httpx.Response, username: str, password: str
) -> httpx.Response:
    """Fill in and post the login form shown on `page`."""
    fields = form_fields(page.text)
    action = fields.pop("__action__")
    fields.update(username=username, password=password)
    return await browser.post(page.url.join(action), data=fields)


async def sign_in(
    browser: httpx.AsyncClient, url: str, username: str, password: str
) -> httpx.Response:
    """Open an authorization URL and log in if asked; returns the final 302 response."""
    page = await browser.get(url)
    if page.status_code == 200 and 'name="password"' in page.text:
        return await submit_login(browser, page, username, password)
    return page


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWS, unverified (for reading what a server issued)."""
    payload: dict[str, Any] = json.loads(jws.extract_compact(token.encode()).payload)
    return payload


async def followed(browser: httpx.AsyncClient, answer: httpx.Response, path: str) -> httpx.Response:
    """A form's post/redirect/get: the POST answered 303 to `path`; the page found there."""
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == path
    return await browser.get(path)
