"""The organization-context rules: which organizations a token covers, and TIN encodings."""

from __future__ import annotations

import json

from identity.store.org_context import (
    MULTI_ORG_MAX_BYTES,
    access_token_claims,
    common_roles,
    identity_claims,
    select_contexts,
)
from identity.store.snapshots import OrgContext, Subject

ALDER = OrgContext(
    "org-a", "Alder Clinic", ("100000001", "100000002"), ("administrator", "billing")
)
BIRCH = OrgContext("org-b", "Birch Billing", ("200000001",), ("subscriber", "billing", "clinical"))


def subject(*orgs: OrgContext, organization_id: str | None = None) -> Subject:
    single = orgs[0] if len(orgs) == 1 else None
    return Subject(
        user_id="u",
        username="u",
        email="u@example.test",
        given_name="",
        family_name="",
        organization_id=organization_id or (single.id if single else None),
        organization_name=single.name if single else None,
        tax_ids=tuple(sorted({t for o in orgs for t in o.tax_ids})),
        roles=common_roles(orgs),
        auth_time=0,
        acr="",
        amr=(),
        sid=None,
        orgs=orgs,
    )


def tins(start: int, count: int) -> tuple[str, ...]:
    return tuple(f"{n:09d}" for n in range(start, start + count))


def test_roles_are_those_held_in_every_organization() -> None:
    assert common_roles([ALDER, BIRCH]) == ("billing",)
    assert common_roles([BIRCH]) == ("subscriber", "billing", "clinical")
    assert common_roles([]) == ()


def test_several_memberships_within_the_limit_are_all_covered() -> None:
    assert select_contexts([ALDER, BIRCH], limit=100) == (ALDER, BIRCH)
    assert select_contexts([BIRCH], limit=100) == (BIRCH,)
    assert select_contexts([], limit=100) == ()


def test_more_tins_than_the_limit_fall_back_to_the_first_membership() -> None:
    big = OrgContext("org-e", "Elm Health", tins(300_000_000, 99), ("subscriber",))
    assert select_contexts([big, BIRCH], limit=100) == (big, BIRCH), "99 + 1 = 100 fits"
    assert select_contexts([big, ALDER], limit=100) == (big,), "99 + 2 > 100"
    assert select_contexts([BIRCH, big], limit=100) == (BIRCH, big)
    assert select_contexts([ALDER, big], limit=100) == (ALDER,)


def test_many_organizations_with_long_names_fall_back_within_the_byte_budget() -> None:
    many = [
        OrgContext(f"{n:036d}", "N" * 200, (f"{400_000_000 + n:09d}",), ("subscriber", "billing"))
        for n in range(30)
    ]
    assert select_contexts(many, limit=100) == (many[0],)
    few = many[:8]
    covered = select_contexts(few, limit=100)
    assert covered == tuple(few)
    encoded = json.dumps(access_token_claims(subject(*covered), 100), separators=(",", ":"))
    assert len(encoded) <= MULTI_ORG_MAX_BYTES


def test_single_organization_claims_are_as_before() -> None:
    assert access_token_claims(subject(ALDER), 100) == {
        "org_id": "org-a",
        "tax_ids": ["100000001", "100000002"],
        "roles": ["administrator", "billing"],
    }


def test_multi_organization_claims() -> None:
    assert access_token_claims(subject(ALDER, BIRCH), 100) == {
        "tax_ids": ["100000001", "100000002", "200000001"],
        "roles": ["billing"],
        "orgs": [
            {
                "id": "org-a",
                "name": "Alder Clinic",
                "tax_ids": ["100000001", "100000002"],
                "roles": ["administrator", "billing"],
            },
            {
                "id": "org-b",
                "name": "Birch Billing",
                "tax_ids": ["200000001"],
                "roles": ["subscriber", "billing", "clinical"],
            },
        ],
    }


def test_tin_lists_beyond_the_limit_are_one_space_delimited_string() -> None:
    big = OrgContext("org-e", "Elm Health", tins(300_000_000, 101), ("subscriber",))
    claims = access_token_claims(subject(big), 100)
    assert claims["tax_ids"] == " ".join(big.tax_ids)
    assert access_token_claims(subject(big), 101)["tax_ids"] == list(big.tax_ids)


def test_id_token_claims_carry_no_tins_and_userinfo_carries_arrays() -> None:
    assert identity_claims(subject(ALDER), with_tins=False) == {
        "org_id": "org-a",
        "org_name": "Alder Clinic",
        "roles": ["administrator", "billing"],
    }
    multi = identity_claims(subject(ALDER, BIRCH), with_tins=False)
    assert "tax_ids" not in multi and all("tax_ids" not in org for org in multi["orgs"])
    assert multi["roles"] == ["billing"]
    big = OrgContext("org-e", "Elm Health", tins(300_000_000, 500), ("subscriber",))
    assert identity_claims(subject(big), with_tins=True)["tax_ids"] == list(big.tax_ids)
    assert identity_claims(subject(), with_tins=True) == {}
