"""The principal of an access token: both TIN encodings and multi-organization tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from policy import Principal, Resource, TokenVerifier, decide
from policy.principal import OrgContext
from tests.support import digits
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer, token_claims

MULTI: dict[str, Any] = {
    "org_id": None,
    "tax_ids": ["111111111", "222222222", "333333333"],
    "roles": ["billing"],
    "orgs": [
        {
            "id": "org-a",
            "name": "Alder Clinic",
            "tax_ids": ["111111111", "222222222"],
            "roles": ["administrator", "billing"],
        },
        {"id": "org-b", "name": "Birch Billing", "tax_ids": ["333333333"], "roles": ["billing"]},
    ],
}


def principal(**claims: Any) -> Principal:
    return Principal.from_claims(token_claims(**claims))


def test_tins_as_an_array_or_one_space_delimited_string_read_the_same() -> None:
    tins = [f"{n:09d}" for n in range(100_000_000, 100_000_500)]
    as_array = principal(tax_ids=tins)
    as_string = principal(tax_ids=" ".join(tins))
    assert as_array.tax_ids == as_string.tax_ids == frozenset(tins)
    assert len(as_string.tax_ids) == 500


def test_tins_that_are_not_nine_digits_are_dropped_in_either_encoding() -> None:
    expected = frozenset({"123456789", "987654321"})
    assert principal(tax_ids="12-3456789  987654321 12345 abcdefghi").tax_ids == expected
    assert principal(tax_ids=["12-3456789", "987654321", "12345", 7]).tax_ids == expected
    assert principal(tax_ids=None).tax_ids == frozenset()
    assert principal(tax_ids={"123456789": True}).tax_ids == frozenset()


def test_only_ascii_digits_make_a_tin() -> None:
    """Full-width and Arabic-Indic digits pass str.isdigit(); they are not a TIN."""
    full_width = digits.full_width("123456789")
    arabic_indic = digits.arabic_indic("123456789")
    assert full_width.isdigit() and arabic_indic.isdigit()
    assert principal(tax_ids=[full_width, arabic_indic, "123456789"]).tax_ids == {"123456789"}
    assert principal(tax_ids=f"{full_width} {arabic_indic}").tax_ids == frozenset()


def test_a_single_organization_token_reads_as_one_context() -> None:
    single = principal(tax_ids="123456789 987654321")
    assert single.org_id == "org-1"
    assert single.orgs == (
        OrgContext(
            id="org-1",
            name=None,
            tax_ids=frozenset({"123456789", "987654321"}),
            roles=frozenset({"subscriber", "billing"}),
        ),
    )
    assert single.roles_for("987654321") == frozenset({"subscriber", "billing"})


def test_a_multi_organization_token_keeps_roles_with_their_organization() -> None:
    multi = principal(**MULTI)
    assert multi.org_id is None
    assert multi.tax_ids == frozenset({"111111111", "222222222", "333333333"})
    assert multi.roles == frozenset({"billing"}), "flat roles are the intersection"
    assert [org.id for org in multi.orgs] == ["org-a", "org-b"]
    assert multi.orgs[0].name == "Alder Clinic"
    assert multi.orgs[1].tax_ids == frozenset({"333333333"})
    assert multi.roles_for("111111111") == frozenset({"administrator", "billing"})
    assert multi.roles_for("333333333") == frozenset({"billing"}), (
        "org A's administrator role never goes with org B's TIN"
    )
    assert [org.id for org in multi.orgs_for("333333333")] == ["org-b"]
    assert multi.roles_for("444444444") == frozenset() and multi.orgs_for("444444444") == ()


def test_per_organization_tins_never_widen_the_flat_list() -> None:
    forged = principal(
        tax_ids=["111111111"],
        orgs=[{"id": "org-a", "name": "A", "tax_ids": ["111111111", "999999999"], "roles": []}],
    )
    assert forged.tax_ids == frozenset({"111111111"})
    assert forged.orgs_for("999999999") == () and forged.roles_for("999999999") == frozenset()


def test_malformed_orgs_entries_are_ignored() -> None:
    odd = principal(org_id=None, orgs=[{"name": "no id"}, "text", {"id": "org-z"}])
    assert odd.orgs == (OrgContext("org-z", None, frozenset(), frozenset()),)


def test_decisions_on_a_multi_organization_token_use_the_union() -> None:
    decision = decide(principal(**MULTI), "claim.read", Resource.claim("333333333"))
    assert decision.allowed and decision.matched_tax_ids == frozenset({"333333333"})


@pytest.fixture
async def verifier() -> AsyncIterator[tuple[TestIssuer, TokenVerifier]]:
    issuer = TestIssuer()
    async with issuer.http_client() as client:
        yield issuer, TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=client)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_verified_token_with_500_tins_as_a_string(
    verifier: tuple[TestIssuer, TokenVerifier], alg: str
) -> None:
    issuer, check = verifier
    tins = [f"{n:09d}" for n in range(200_000_000, 200_000_500)]
    key = issuer.rsa if alg == "RS256" else issuer.ec
    token = issuer.mint(key, tax_ids=" ".join(tins))
    verified = await check.verify(token)
    assert verified.tax_ids == frozenset(tins)
    assert len(token) < 8192
