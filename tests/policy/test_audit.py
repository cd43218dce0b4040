"""The shared hash-chain rule and its verifier."""

from __future__ import annotations

from policy import Principal, decide
from policy.audit import GENESIS, AccessRecord, ChainVerifier, chain_hash
from policy.decision import Resource


def chain(contents: list[dict[str, object]]) -> list[tuple[int, str, str, dict[str, object]]]:
    rows, prev = [], GENESIS
    for seq, content in enumerate(contents, start=1):
        digest = chain_hash(prev, {**content, "seq": seq})
        rows.append((seq, prev, digest, {**content, "seq": seq}))
        prev = digest
    return rows


def walk(
    rows: list[tuple[int, str, str, dict[str, object]]], head: tuple[int, str]
) -> tuple[bool, int | None]:
    verifier = ChainVerifier()
    for row in rows:
        if not verifier.feed(*row):
            break
    result = verifier.finish(*head)
    return result.ok, result.first_bad_seq


def test_hash_depends_on_content_and_predecessor_not_key_order() -> None:
    assert chain_hash(GENESIS, {"a": 1, "b": 2}) == chain_hash(GENESIS, {"b": 2, "a": 1})
    assert chain_hash(GENESIS, {"a": 1}) != chain_hash("1" * 64, {"a": 1})
    assert chain_hash(GENESIS, {"a": 1}) != chain_hash(GENESIS, {"a": 2})


def test_intact_altered_removed_reordered_truncated() -> None:
    rows = chain([{"event": f"e{n}"} for n in range(5)])
    head = (5, rows[-1][2])
    assert walk(rows, head) == (True, None)
    altered = [*rows[:2], (3, rows[2][1], rows[2][2], {"event": "forged", "seq": 3}), *rows[3:]]
    assert walk(altered, head) == (False, 3)
    assert walk([*rows[:1], *rows[2:]], head) == (False, 2)
    assert walk([rows[0], (2, *rows[2][1:]), (3, *rows[1][1:]), *rows[3:]], head) == (False, 2)
    assert walk(rows[:3], head) == (False, 4)


def test_an_access_record_names_the_organization_of_the_tin_for_a_multi_org_token() -> None:
    principal = Principal.from_claims(
        {
            "sub": "u1",
            "client_id": "portal",
            "exp": 2_000_000_000,
            "scope": "claims:read",
            "roles": ["billing"],
            "tax_ids": ["111111111", "222222222"],
            "orgs": [
                {"id": "org-a", "name": "A", "tax_ids": ["111111111"], "roles": ["billing"]},
                {"id": "org-b", "name": "B", "tax_ids": ["222222222"], "roles": ["billing"]},
            ],
        }
    )
    decision = decide(principal, "claim.read", Resource.claim("222222222"))
    record = AccessRecord.of(principal, decision, member_id="M1", tax_id=None, request_id=None)
    assert decision.allowed, decision.reason
    assert record.org_id == "org-b" and record.tax_id == "222222222"
