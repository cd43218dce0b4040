"""Access to patient data: the TIN decision against provider records, and its audit.

Every decision goes through `policy.decide`; every access, allowed or denied, is
written as an AccessEvent: in the request's transaction when the request changes
something (a failed match's counters, a submission), else (`read_only`) by the
group-commit writer (policy.audit_batch), durable before the answer is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from policy import Decision, Principal, Resource, decide, metrics
from policy.audit import AccessRecord
from policy.audit_batch import GroupCommitWriter
from policy.rfc6750 import www_authenticate
from provider_data.platform import audit
from provider_data.platform.problems import Problem
from provider_data.reads import eligibility as reads


async def record(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    decision: Decision,
    *,
    member_id: str | None = None,
    tax_id: str | None = None,
    batch: list[AccessRecord] | None = None,
    read_only: bool = False,
) -> None:
    """Write the access to the chained trail, in the request's transaction; with a
    `batch`, keep it there for `audit.record_many` before the request commits. A
    `read_only` request (it changed nothing) has it written by `record_reads`. A
    refusal is counted (`tinpass_access_refusals_total`)."""
    if not decision.allowed:
        metrics.ACCESS_REFUSALS(decision.action, decision.reason).inc()
    access = AccessRecord.of(
        principal,
        decision,
        member_id=member_id,
        tax_id=tax_id,
        request_id=getattr(request.state, "request_id", None),
    )
    if batch is not None:
        batch.append(access)
    elif read_only:
        await record_reads(session, request, [access])
    else:
        await audit.record(session, access)


async def record_reads(
    session: AsyncSession, request: Request, accesses: list[AccessRecord]
) -> None:
    """The accesses of a request that changed nothing: its read transaction ends (rolled
    back: there is nothing to keep) and the events are written by the group-commit
    writer with other requests' (policy.audit_batch), committed when this returns.
    Without a writer (PROVIDER_DATA_AUDIT_BATCH_SIZE=0): in the session, committed."""
    writer: GroupCommitWriter | None = getattr(request.app.state, "audit_writer", None)
    if writer is None:
        await audit.record_many(session, accesses)
        await session.commit()
        return
    await session.rollback()
    await writer.write(audit.rows(accesses))


async def record_disclosures(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    decision: Decision,
    shown: Iterable[tuple[str, str]],
    *,
    member_filter: str | None = None,
    read_only: bool = False,
) -> None:
    """One event per member and billing TIN whose data an answer disclosed (`read_only`:
    see `record`).

    An answer that disclosed nothing is still one event, with the member asked about.
    """
    pairs: list[tuple[str | None, str | None]] = list(sorted(set(shown)))
    batch: list[AccessRecord] = []
    for member_id, tax_id in pairs or [(member_filter, None)]:
        await record(
            session, request, principal, decision, member_id=member_id, tax_id=tax_id, batch=batch
        )
    if read_only:
        await record_reads(session, request, batch)
    else:
        await audit.record_many(session, batch)


async def authorize_plan(
    session: AsyncSession, request: Request, principal: Principal, action: str, on: date
) -> tuple[Decision, list[reads.Provider]]:
    """Allow only when the token's TINs match a provider record in effect; else a 403 problem."""
    records = await reads.providers_in_effect(session, principal.tax_ids, on)
    decision = decide(principal, action, Resource.plan(r.tin for r in records))
    if not decision.allowed:
        await record(session, request, principal, decision, read_only=True)
        raise refusal(decision)
    return decision, [r for r in records if r.tin in decision.matched_tax_ids]


def refusal(decision: Decision) -> Problem:
    """The 403 problem for a denied decision; RFC 6750's challenge when a scope is missing."""
    slug = decision.reason.replace("_", "-")
    failure = Problem(403, "Access denied", decision.explanation, slug, reason=decision.reason)
    if decision.reason == "insufficient_scope":
        failure.headers["WWW-Authenticate"] = www_authenticate(
            "insufficient_scope", "the access token lacks the scope this request needs"
        )
    return failure
