"""Real tokens from the running identity service for the people and clients the fuzzer
acts as: an organization administrator, a subscriber, an integrator, a TINpass operator.

Each token comes from identity's own endpoints (a browser login with PKCE, or the
client_credentials grant with a private_key_jwt assertion); nothing is minted here.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from deploy.stack import Stack
from tests.support.oidc import Pkce, authorize_url, query_of, sign_in

PASSWORD = "Demo.Passw0rd-2026"
CONSOLE = "tinpass-console"
PORTAL = "cascade-portal"
INTEGRATOR = "acme-integrator"
ADMIN_SCOPE = "openid tinpass:admin"
PLAN_SCOPE = "openid eligibility:read claims:read claims:write"


async def user_token(stack: Stack, username: str, client_id: str, scope: str) -> str:
    """An access token for `username` from a real login at identity (code flow + PKCE)."""
    pkce = Pkce.new()
    if client_id == CONSOLE:
        redirect_uri, secret = stack.issuer + "/console/callback", None
    else:
        redirect_uri = stack.url("gateway") + "/portal/callback"
        secret = stack.credentials()[client_id]
    async with httpx.AsyncClient(timeout=30) as browser:
        url = stack.issuer + authorize_url(client_id, redirect_uri, pkce, scope=scope)
        answer = await sign_in(browser, url, username, PASSWORD)
        assert answer.status_code == 302, answer.text
        form = {
            "grant_type": "authorization_code",
            "code": query_of(answer.headers["location"])["code"],
            "redirect_uri": redirect_uri,
            "code_verifier": pkce.verifier,
        }
        if secret is None:
            token = await browser.post(
                stack.issuer + "/token", data={**form, "client_id": client_id}
            )
        else:
            token = await browser.post(stack.issuer + "/token", data=form, auth=(client_id, secret))
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


async def integrator_token(stack: Stack, scope: str = "eligibility:read claims:read") -> str:
    """The integrator client's token (client_credentials, private_key_jwt)."""
    key_file = Path(stack.credentials()["acme-integrator-key-path"])
    key = RSAKey.import_key(json.loads(key_file.read_text()))
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": INTEGRATOR,
        "sub": INTEGRATOR,
        "aud": stack.issuer + "/token",
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
    }
    assertion = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    async with httpx.AsyncClient(timeout=30) as client:
        token = await client.post(
            stack.issuer + "/token",
            data={
                "grant_type": "client_credentials",
                "scope": scope,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
        )
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
