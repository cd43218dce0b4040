"""Token size stays bounded: 500 TINs still fit a header under 8 KB (RS256 and ES256).

Common proxies refuse request headers over 8 KB with HTTP 431, so the whole
`Authorization: Bearer <token>` line must stay under 8192 bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from joserfc import jws

from tests.identity.harness import running_identity
from tests.identity.oauth.org_world import (
    BIG,
    ELM_TINS,
    World,
    integrator_token,
    refresh,
    revoke_tin_grant,
    seed,
    user_tokens,
    verified,
)
from tests.support.oidc import jwt_claims

HEADER_LIMIT = 8192


def header_size(token: str) -> int:
    return len(f"Authorization: Bearer {token}\r\n".encode())


@pytest.fixture(scope="module")
async def rs256(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """RS256 access tokens (RFC 9068's mandatory algorithm; ES256 is the default)."""
    tmp = tmp_path_factory.mktemp("rs256")
    async with running_identity(tmp, access_token_alg="RS256") as harness:
        yield await seed(harness, ["big.biller", "big.refresher"], integrator=True)


@pytest.fixture(scope="module")
async def es256(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running_identity(tmp_path_factory.mktemp("es256"), signing_alg="ES256") as harness:
        yield await seed(harness, ["big.biller"], integrator=True)


async def check_user_with_500_tins(world: World, alg: str) -> None:
    tokens = await user_tokens(world.identity, "big.biller")
    access = tokens["access_token"]
    assert jws.extract_compact(access.encode()).headers()["alg"] == alg
    assert header_size(access) < HEADER_LIMIT, header_size(access)
    claims = jwt_claims(access)
    assert claims["org_id"] == world.orgs["Elm Health System"], (
        "beyond the limit the first membership's context, not a multi-organization token"
    )
    assert "orgs" not in claims and isinstance(claims["tax_ids"], str)
    principal = await verified(world.identity, access)
    assert principal.tax_ids == frozenset(ELM_TINS) and len(principal.tax_ids) == BIG
    assert principal.roles == frozenset({"subscriber", "billing"})
    assert len(tokens["id_token"]) < 2048, "the ID token carries no TIN lists"
    assert "tax_ids" not in jwt_claims(tokens["id_token"])


async def check_integrator_with_500_tins(world: World, alg: str) -> None:
    access = await integrator_token(world)
    assert jws.extract_compact(access.encode()).headers()["alg"] == alg
    assert header_size(access) < HEADER_LIMIT, header_size(access)
    principal = await verified(world.identity, access)
    assert principal.tax_ids == frozenset(ELM_TINS) and not principal.is_user
    assert principal.org_id == world.orgs["Elm Health System"]


async def test_user_with_500_tins_rs256(rs256: World) -> None:
    await check_user_with_500_tins(rs256, "RS256")


async def test_user_with_500_tins_es256(es256: World) -> None:
    await check_user_with_500_tins(es256, "ES256")


async def test_integrator_with_500_tins_rs256(rs256: World) -> None:
    await check_integrator_with_500_tins(rs256, "RS256")


async def test_integrator_with_500_tins_es256(es256: World) -> None:
    await check_integrator_with_500_tins(es256, "ES256")


async def test_the_other_organization_is_one_org_id_away(rs256: World) -> None:
    birch = rs256.orgs["Birch Billing"]
    tokens = await user_tokens(rs256.identity, "big.biller", org_id=birch)
    claims = jwt_claims(tokens["access_token"])
    assert (claims["org_id"], claims["tax_ids"]) == (birch, ["200000001"])


async def test_refresh_of_the_large_context_stays_with_it_and_loses_a_removed_tin(
    rs256: World,
) -> None:
    tokens = await user_tokens(rs256.identity, "big.refresher")
    await revoke_tin_grant(rs256, "big.refresher", "Elm Health System", ELM_TINS[0])
    refreshed = await refresh(rs256.identity, tokens["refresh_token"])
    principal = await verified(rs256.identity, refreshed["access_token"])
    assert principal.org_id == rs256.orgs["Elm Health System"]
    assert principal.tax_ids == frozenset(ELM_TINS[1:])
    assert header_size(refreshed["access_token"]) < HEADER_LIMIT
