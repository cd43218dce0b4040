"""Which organizations a user's token speaks for, and how its TIN lists are encoded.

The rules (docs/architecture.md, "Access token"):

- The relying party named an organization (`org_id` on the authorization request):
  that organization's context only.
- Otherwise, one active membership: that organization's context.
- Otherwise a multi-organization context over every active membership: flat
  `tax_ids` is the union of the granted TINs, flat `roles` only the roles held in
  every covered organization (never a role of one organization beside a TIN of
  another), and `orgs` the per-organization contexts. It is not issued when it
  would carry more than `token_tin_array_limit` TIN entries or when its claims
  would exceed `MULTI_ORG_MAX_BYTES`: the token then carries the first membership's
  context (in order of creation), and the relying party may ask for another with
  `org_id`.

TIN lists are JSON arrays of 9-digit strings; a token carrying more than
`token_tin_array_limit` TINs encodes every TIN list as one space-delimited string
(as RFC 9068's `scope` is), which keeps 500 TINs well under the 8 KB that common
proxies accept in a header. The ID token never carries TIN lists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from identity.store.snapshots import OrgContext, Subject
from policy.names import Claim

# The organization claims (`tax_ids`, `roles`, `orgs`) of a multi-organization token
# stay within this many bytes of JSON, whatever the organizations' names and number.
MULTI_ORG_MAX_BYTES = 4096

TinList = list[str] | str


def beyond_limit(count: int, limit: int | None) -> bool:
    return limit is not None and count > limit


def encode_tins(tins: Sequence[str], as_string: bool) -> TinList:
    """A JSON array, or one space-delimited string."""
    return " ".join(tins) if as_string else list(tins)


def union_tins(contexts: Sequence[OrgContext]) -> tuple[str, ...]:
    return tuple(sorted({tin for context in contexts for tin in context.tax_ids}))


def common_roles(contexts: Sequence[OrgContext]) -> tuple[str, ...]:
    """The roles held in every one of `contexts` (in the first one's order)."""
    if not contexts:
        return ()
    first, *rest = contexts
    return tuple(role for role in dict.fromkeys(first.roles) if all(role in c.roles for c in rest))


def multi_org_claims(
    contexts: Sequence[OrgContext], limit: int | None, *, with_tins: bool = True
) -> dict[str, Any]:
    """`tax_ids` (union), `roles` (intersection) and `orgs` of a multi-organization context."""
    tins = union_tins(contexts)
    as_string = beyond_limit(len(tins), limit)
    orgs: list[dict[str, Any]] = []
    for context in contexts:
        entry: dict[str, Any] = {"id": context.id, "name": context.name}
        if with_tins:
            entry[Claim.TAX_IDS] = encode_tins(context.tax_ids, as_string)
        entry[Claim.ROLES] = list(context.roles)
        orgs.append(entry)
    claims: dict[str, Any] = {}
    if with_tins:
        claims[Claim.TAX_IDS] = encode_tins(tins, as_string)
    claims[Claim.ROLES] = list(common_roles(contexts))
    claims[Claim.ORGS] = orgs
    return claims


def fits_in_one_token(contexts: Sequence[OrgContext], limit: int) -> bool:
    """A multi-organization context stays within the TIN limit and the byte budget."""
    if sum(len(c.tax_ids) for c in contexts) > limit:
        return False
    encoded = json.dumps(multi_org_claims(contexts, limit), separators=(",", ":"))
    return len(encoded.encode()) <= MULTI_ORG_MAX_BYTES


def select_contexts(contexts: Sequence[OrgContext], limit: int) -> tuple[OrgContext, ...]:
    """The contexts a token covers, from the user's active memberships in creation order."""
    if len(contexts) <= 1 or fits_in_one_token(contexts, limit):
        return tuple(contexts)
    return (contexts[0],)


def access_token_claims(subject: Subject, limit: int) -> dict[str, Any]:
    """`org_id`, `tax_ids`, `roles` (one organization) or `tax_ids`, `roles`, `orgs`."""
    if subject.is_multi_org:
        return multi_org_claims(subject.orgs, limit)
    return {
        Claim.ORG_ID: subject.organization_id,
        Claim.TAX_IDS: encode_tins(subject.tax_ids, beyond_limit(len(subject.tax_ids), limit)),
        Claim.ROLES: list(subject.roles),
    }


def identity_claims(subject: Subject, *, with_tins: bool) -> dict[str, Any]:
    """The organization claims of the ID token (no TINs) and of userinfo (TIN arrays)."""
    if subject.is_multi_org:
        return multi_org_claims(subject.orgs, None, with_tins=with_tins)
    if not subject.organization_id:
        return {}
    claims: dict[str, Any] = {
        Claim.ORG_ID: subject.organization_id,
        Claim.ORG_NAME: subject.organization_name,
    }
    if with_tins:
        claims[Claim.TAX_IDS] = list(subject.tax_ids)
    claims[Claim.ROLES] = list(subject.roles)
    return claims
