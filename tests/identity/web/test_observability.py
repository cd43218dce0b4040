"""Identity observed: /metrics by route template; tokens per grant, logins, failures,
lockouts, second-factor challenges and throttle refusals counted once each as they
are recorded; the /token log line names the client, never its secret."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pyotp
import pytest
from sqlalchemy import select, update

from identity.crypto import seal
from identity.models import User
from tests.identity.admin_flows import admin_token, bearer, org_id_of
from tests.identity.harness import (
    PASSWORD,
    PORTAL,
    PORTAL_REDIRECT,
    IdentityHarness,
    running_identity,
)
from tests.support.metrics import Samples, access_lines, scrape, value
from tests.support.oidc import Pkce, authorize_url, form_fields, sign_in


@pytest.fixture(scope="module")
async def identity(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IdentityHarness]:
    # Two tokens a minute per address: each test calls from addresses of its own.
    async with running_identity(tmp_path_factory.mktemp("obs"), token_rate_limit="2/minute") as h:
        yield h


async def metrics(identity: IdentityHarness) -> Samples:
    async with identity.client() as client:
        return await scrape(client)


async def test_requests_are_counted_by_route_template(identity: IdentityHarness) -> None:
    org = str(uuid.uuid4())
    before = await metrics(identity)
    async with identity.client() as client:
        assert (await client.get("/.well-known/openid-configuration")).status_code == 200
        assert (await client.get(f"/api/v1/organizations/{org}")).status_code == 401
    after = await metrics(identity)
    name = "tinpass_http_request_duration_seconds_count"
    found = {"service": "identity", "method": "GET"}
    discovery = {**found, "route": "/.well-known/openid-configuration", "status": "2xx"}
    assert value(after, name, **discovery) - value(before, name, **discovery) == 1
    admin = {**found, "route": "/api/v1/organizations/{org_id}", "status": "4xx"}
    assert value(after, name, **admin) - value(before, name, **admin) == 1
    assert not any(org in str(labels) for _, labels in after)


async def test_tokens_per_grant_and_the_token_log_line(
    identity: IdentityHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = identity.credentials.curl_secret
    before = await metrics(identity)
    access_lines(capsys)
    async with identity.client("10.1.0.1") as client:
        issued = await client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("acme-curl", secret)
        )
    assert issued.status_code == 200
    (line,) = access_lines(capsys)
    after = await metrics(identity)
    grant = {"grant_type": "client_credentials"}
    assert (
        value(after, "tinpass_tokens_issued_total", **grant)
        - value(before, "tinpass_tokens_issued_total", **grant)
        == 1
    )
    assert line["route"] == "/token" and line["status"] == 200 and line["method"] == "POST"
    assert line["client_id"] == "acme-curl" and line["organization"]
    written = json.dumps(line)
    assert secret not in written and issued.json()["access_token"] not in written


async def test_throttle_refusals_are_counted(identity: IdentityHarness) -> None:
    labels = {"service": "identity", "limit": "token"}
    before = value(await metrics(identity), "tinpass_rate_limit_rejections_total", **labels)
    async with identity.client("10.1.0.2") as client:
        answers = [
            (await client.post("/token", data={"grant_type": "client_credentials"})).status_code
            for _ in range(3)
        ]
    assert answers == [401, 401, 429]
    after = value(await metrics(identity), "tinpass_rate_limit_rejections_total", **labels)
    assert after - before == 1


async def test_logins_failures_lockouts_and_second_factors_are_counted(
    identity: IdentityHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = pyotp.random_base32()
    async with identity.session() as session:
        user = await session.scalar(select(User).where(User.username == "sam.biller"))
        assert user is not None
        await session.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                totp_secret_encrypted=seal(identity.settings, "totp", secret.encode(), user.id),
                totp_confirmed_at=datetime.now(UTC),
            )
        )
        await session.commit()
    before = await metrics(identity)
    url = authorize_url(PORTAL, PORTAL_REDIRECT, Pkce.new())
    access_lines(capsys)
    async with identity.client() as browser:
        for _ in range(5):  # the fifth locks the account
            assert (await sign_in(browser, url, "hana.harb", "wrong-password-1")).status_code == 401
        challenge = await sign_in(browser, url, "sam.biller", PASSWORD)
        assert challenge.status_code == 200 and 'name="code"' in challenge.text
        fields = form_fields(challenge.text)
        action = fields.pop("__action__")
        wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
        refused = await browser.post(challenge.url.join(action), data={**fields, "code": wrong})
        assert refused.status_code == 401
        assert (await sign_in(browser, url, "ever.admin", PASSWORD)).status_code == 302
    written = json.dumps(access_lines(capsys))
    after = await metrics(identity)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("tinpass_login_failures_total", reason="wrong_password") == 5
    assert moved("tinpass_account_lockouts_total") == 1
    assert moved("tinpass_mfa_challenges_total") == 1
    assert moved("tinpass_mfa_failures_total") == 1
    assert moved("tinpass_login_failures_total", reason="wrong_code") == 1
    assert moved("tinpass_logins_total") == 1
    for secret_text in (PASSWORD, "wrong-password-1", "hana.harb", "sam.biller", wrong):
        assert secret_text not in written


async def test_the_admin_api_log_line_names_the_token_client_and_organization(
    identity: IdentityHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    token = await admin_token(identity, "ever.admin")
    org = await org_id_of(identity, "Evergreen Family Clinic")
    access_lines(capsys)
    async with identity.client() as client:
        response = await client.get(f"/api/v1/organizations/{org}", headers=bearer(token))
    assert response.status_code == 200
    (line,) = access_lines(capsys)
    assert line["route"] == "/api/v1/organizations/{org_id}" and line["client_id"]
    assert line["organization"] == org and token not in json.dumps(line)
