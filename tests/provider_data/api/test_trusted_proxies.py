"""The plan's services believe forwarded headers only from configured proxies
(PROVIDER_DATA_TRUSTED_PROXIES); none by default."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Request

from provider_data.api import claims
from provider_data.platform.settings import Settings
from tests.support.tokens import AUDIENCE, ISSUER


async def _seen_client(settings: Settings) -> tuple[str, str]:
    app = claims.create_app(settings, verifier=None)

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"host": request.client.host if request.client else "", "scheme": request.url.scheme}

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://plan.test") as client:
        answer = await client.get(
            "/whoami", headers={"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}
        )
    seen = answer.json()
    return seen["host"], seen["scheme"]


def _settings(**changes: Any) -> Settings:
    return Settings(environment="test", issuer=ISSUER, audience=AUDIENCE, **changes)


async def test_forwarded_headers_are_ignored_unless_the_peer_is_a_configured_proxy() -> None:
    assert await _seen_client(_settings()) == ("127.0.0.1", "http")
    assert await _seen_client(_settings(trusted_proxies=["10.0.0.0/8"])) == ("127.0.0.1", "http")
    assert await _seen_client(_settings(trusted_proxies=["127.0.0.1"])) == (
        "203.0.113.5",
        "https",
    )


def test_trusted_proxies_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_DATA_TRUSTED_PROXIES", "10.0.0.5,fd00::/8")
    assert Settings().trusted_proxies == ["10.0.0.5", "fd00::/8"]
    monkeypatch.setenv("PROVIDER_DATA_TRUSTED_PROXIES", "*")
    with pytest.raises(ValueError, match="not an IP address"):
        Settings()
