"""Claim submission: one claim or up to 1,000, each through the access decision, the
front-end edits and the rules engine, in one transaction per request. An
`Idempotency-Key` header makes a retried request replay its first answer."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from policy import PROBLEM_JSON, Principal, Resource, decide, idempotency, problem
from policy.audit import AccessRecord
from provider_data.api.claim_output import claim_out
from provider_data.api.deps import CurrentPrincipal, SessionDep, SettingsDep
from provider_data.documents.claims import (
    BulkClaims,
    BulkResult,
    ClaimIn,
    ClaimOut,
    ClaimResult,
    Edit,
)
from provider_data.domain import access, guessing
from provider_data.domain.edits import edit, static_edits
from provider_data.domain.intake import Intake, Received
from provider_data.platform import audit
from provider_data.platform.models import IdempotentRequest
from provider_data.platform.settings import Settings
from provider_data.reads import plandata

router = APIRouter(prefix="/claims/v1", tags=["claims"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.KEY_HEADER,
        max_length=idempotency.MAX_KEY_LENGTH,
        description="Any unique string; a retry with the same key and body replays the answer.",
    ),
]
WHOLE_REQUEST_REFUSALS = ("insufficient_scope", "missing_role", "no_tax_ids")


def _disclosed(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The (member, billing TIN) pairs a stored answer shows again when replayed."""
    claims = [body] if "claim_number" in body else [r["claim"] for r in body.get("results", [])]
    return [(c["member_id"], c["billing_tin"]) for c in claims if c]


async def _replayed(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    key: str | None,
    digest: str,
) -> JSONResponse | None:
    """The stored answer for a retried key (audited as a disclosure again), or None."""
    if key is None:
        return None
    stored = await session.scalar(
        select(IdempotentRequest).filter_by(
            client_id=principal.client_id, subject=principal.subject, key=key
        )
    )
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise idempotency.reused()
    body = json.loads(stored.response)
    decision = decide(principal, "claims.submit", Resource.plan(principal.tax_ids))
    await access.record_disclosures(session, request, principal, decision, _disclosed(body))
    await session.commit()
    media = PROBLEM_JSON if stored.status_code >= 400 else "application/json"
    return JSONResponse(
        body,
        status_code=stored.status_code,
        media_type=media,
        headers={idempotency.REPLAYED_HEADER: "true"},
    )


async def _finish(
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    digest: str,
    status: int,
    body: dict[str, Any],
) -> JSONResponse:
    """Keep the answer under the key (same transaction) and commit."""
    if key is not None:
        session.add(
            IdempotentRequest(
                client_id=principal.client_id,
                subject=principal.subject,
                key=key,
                request_hash=digest,
                status_code=status,
                response=json.dumps(body),
            )
        )
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise idempotency.in_use() from error
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(body, status_code=status, media_type=media)


def _whole_request_check(principal: Principal) -> None:
    probe = decide(principal, "claims.submit", Resource.claim(min(principal.tax_ids, default="")))
    if not probe.allowed and probe.reason in WHOLE_REQUEST_REFUSALS:
        raise access.refusal(probe)


def _received(
    request: Request,
    principal: Principal,
    index: int,
    claim: ClaimIn,
    today: date,
    batch: list[AccessRecord],
) -> Received | Edit:
    """The claim's TIN decision (audited) and the edits on the claim alone."""
    tin = claim.billing_provider.tin.replace("-", "")
    member_id = plandata.normalize_member_id(claim.member.member_id)
    decision = decide(principal, "claims.submit", Resource.claim(tin))
    batch.append(
        AccessRecord.of(
            principal,
            decision,
            member_id=member_id,
            tax_id=tin,
            request_id=getattr(request.state, "request_id", None),
        )
    )
    if not decision.allowed:
        return edit("billing_tin_not_authorized", "billing_provider.tin", value=tin)
    return Received(index, claim, tin, tuple(static_edits(claim, today)))


@router.post(
    "/claims",
    status_code=201,
    response_model=ClaimOut,
    responses={
        422: {"description": "Rejected by front-end edits (`claim-rejected`, with `edits`)."},
        403: {"description": "The billing Tax ID is not yours, or your role may not submit."},
    },
    summary="Submit one claim (837P-like)",
)
async def submit_claim(
    claim: ClaimIn,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Front-end edits, then adjudication: the answer is the claim with its status."""
    _whole_request_check(principal)
    digest = idempotency.request_digest(await request.body(), request.url.path)
    replay = await _replayed(session, request, principal, idempotency_key, digest)
    if replay is not None:
        return replay
    today, batch = date.today(), list[AccessRecord]()
    received = _received(request, principal, 0, claim, today, batch)
    guard = await _guard(session, settings, principal, [received])
    await audit.record_many(session, batch)
    if isinstance(received, Edit):
        await session.commit()
        raise access.refusal(decide(principal, "claims.submit", Resource.claim("")))
    intake = Intake(session, today, guard=guard)
    rejected = await intake.receive([received])
    if rejected:
        edits = rejected[0]
        body = problem(
            422,
            "Claim rejected",
            "; ".join(e.description for e in edits),
            type_slug="claim-rejected",
            edits=[e.model_dump() for e in edits],
        )
        return await _finish(session, principal, idempotency_key, digest, 422, body)
    stored = (await intake.write())[0]
    out = claim_out(stored, True).model_dump(mode="json")
    return await _finish(session, principal, idempotency_key, digest, 201, out)


@router.post(
    "/claims/bulk",
    response_model=BulkResult,
    summary="Submit up to 1,000 claims; each is accepted or rejected on its own",
)
async def submit_bulk(
    bulk: BulkClaims,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Per-claim results in order: a rejected claim does not affect the others."""
    _whole_request_check(principal)
    digest = idempotency.request_digest(await request.body(), request.url.path)
    replay = await _replayed(session, request, principal, idempotency_key, digest)
    if replay is not None:
        return replay
    today, batch = date.today(), list[AccessRecord]()
    entries = [
        _bulk_entry(request, principal, i, raw, today, batch) for i, raw in enumerate(bulk.claims)
    ]
    guard = await _guard(session, settings, principal, entries)
    await audit.record_many(session, batch)
    intake = Intake(session, today, guard=guard)
    rejected = await intake.receive([e for e in entries if isinstance(e, Received)])
    stored = await intake.write()
    results = []
    for index, entry in enumerate(entries):
        if isinstance(entry, Received) and index in stored:
            results.append(
                ClaimResult(index=index, outcome="accepted", claim=claim_out(stored[index], True))
            )
        else:
            edits = rejected.get(index, []) if isinstance(entry, Received) else entry
            results.append(ClaimResult(index=index, outcome="rejected", edits=edits))
    accepted = sum(1 for r in results if r.outcome == "accepted")
    body = BulkResult(accepted=accepted, rejected=len(results) - accepted, results=results)
    return await _finish(
        session, principal, idempotency_key, digest, 200, body.model_dump(mode="json")
    )


async def _guard(
    session: AsyncSession, settings: Settings, principal: Principal, entries: list[Any]
) -> guessing.Guard:
    """The date-of-birth guessing counters of the claims' members, locked client first,
    then members in ID order (the order eligibility takes them in too)."""
    guard = guessing.Guard(session, settings, principal.client_id, "claims.guess_refused")
    born = [e.claim.member for e in entries if isinstance(e, Received)]
    members = [plandata.normalize_member_id(m.member_id) for m in born if m.date_of_birth]
    if members:
        await guard.lock_members(members)
    return guard


def _bulk_entry(
    request: Request,
    principal: Principal,
    index: int,
    raw: dict[str, Any],
    today: date,
    batch: list[AccessRecord],
) -> Received | list[Edit]:
    """A claim ready for the intake, or why it is not (format, TIN)."""
    try:
        claim = ClaimIn.model_validate(raw)
    except ValidationError as error:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        return [edit("invalid_format", detail=detail)]
    received = _received(request, principal, index, claim, today, batch)
    return [received] if isinstance(received, Edit) else received
