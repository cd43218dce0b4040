"""The eligibility app: is this member covered on this date, and for what (X12 270/271-like).

Each inquiry is decided on its own: allowed when the token's Tax IDs match a
provider record in effect on the date of service, and audited either way.
Run with `uvicorn --factory provider_data.api.eligibility:create_app --no-proxy-headers`
(forwarded headers are trusted only from the configured proxies, policy.forwarded).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from policy import Decision, Principal, Resource, TokenVerifier, decide, outages, problem
from policy.audit import AccessRecord
from policy.dbpool import autocommit_reads, in_autocommit_reads
from provider_data.api import providers
from provider_data.api.deps import CurrentPrincipal, SessionDep, SettingsDep
from provider_data.api.service import build_app
from provider_data.documents.eligibility import (
    AccumulatorOut,
    BatchAnswer,
    BatchEntry,
    BatchInquiry,
    BenefitOut,
    CoverageOut,
    EligibilityAnswer,
    Inquiry,
    MemberOut,
    PcpOut,
    PlanOut,
    ProviderOut,
    Reason,
)
from provider_data.documents.x12 import AAA_REASONS, PLAN_COVERAGE, SERVICE_TYPES
from provider_data.domain import access, guessing
from provider_data.platform import audit
from provider_data.platform.models import ZERO
from provider_data.platform.problems import Problem
from provider_data.platform.settings import Settings
from provider_data.reads import eligibility as reads
from provider_data.reads import inquiry as eligibility_reads
from provider_data.reads import plandata, reference

router = APIRouter(prefix="/eligibility/v1", tags=["eligibility"])
REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Your Tax IDs match no provider record in effect on that date."},
    429: {
        "description": "Too many recent inquiries about this member, or from this client, "
        "did not match; retry after `Retry-After` seconds."
    },
}


def _decide(
    principal: Principal, inquiry: Inquiry, records: list[reads.Provider]
) -> tuple[Decision, reads.Provider | None]:
    if inquiry.provider_npi:
        records = [r for r in records if r.npi == inquiry.provider_npi]
    decision = decide(principal, "eligibility.read", Resource.plan(r.tin for r in records))
    matched = [r for r in records if r.tin in decision.matched_tax_ids]
    return decision, (matched[0] if matched else None)


async def _answer_one(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    inquiry: Inquiry,
    guard: guessing.Guard,
    batch: list[AccessRecord] | None = None,
) -> EligibilityAnswer:
    """The answer to one inquiry, audited; a refusal is audited and raised as a Problem.

    Everything is read in one statement and the answer worked out first; an inquiry
    that did not match then locks its failed-match counters (`Guard.wait`) and counts,
    a matched one checks them as read. Alone (no `batch`), an inquiry that changed
    nothing (a denial, a match) has its event written by the group-commit writer; a
    failed match keeps it with its counters."""
    on = inquiry.date_of_service or date.today()
    member_id = plandata.normalize_member_id(inquiry.member_id)
    key = guessing.client_key(principal.client_id)
    if batch is None:  # alone: its one read needs no transaction (one round trip, not three)
        await autocommit_reads(session)
    read = await eligibility_reads.inquiry_rows(session, principal.tax_ids, on, member_id, key)
    decision, provider = _decide(principal, inquiry, read.providers)
    if provider is None:
        await access.record(
            session, request, principal, decision, member_id=member_id, batch=batch, read_only=True
        )
        raise access.refusal(decision)
    member = read.member_for(provider.id)
    answer = await _build(session, request, member, inquiry, on, provider, read.amounts)
    if answer.status == "not_found":
        if in_autocommit_reads(session):
            await session.commit()  # the reads are done: the counting gets a transaction
        wait = await guard.wait(member)
    else:
        assert member is not None  # found: matched
        wait = guard.wait_read(
            member, member_window=member.member_window, client_window=member.client_window
        )
    matched = answer.status != "not_found"  # no counter locked or counted
    if wait:
        refused = replace(decision, allowed=False, reason=guessing.REFUSED_REASON)
        await access.record(
            session,
            request,
            principal,
            refused,
            member_id=member_id,
            tax_id=provider.tin,
            batch=batch,
            read_only=matched,
        )
        raise guessing.refusal(wait, guard.settings.plan_name)
    if answer.status == "not_found":
        await guard.failed(member)
    await access.record(
        session,
        request,
        principal,
        decision,
        member_id=member_id,
        tax_id=provider.tin,
        batch=batch,
        read_only=matched,
    )
    return answer


def _mismatch(member: reads.MemberView | None, inquiry: Inquiry) -> Reason | None:
    if member is None:
        return "member_not_found"
    if member.date_of_birth != inquiry.date_of_birth:
        return "date_of_birth_mismatch"
    for given, stored in (
        (inquiry.first_name, member.first_name),
        (inquiry.last_name, member.last_name),
    ):
        if given and given.strip().casefold() != stored.casefold():
            return "name_mismatch"
    return None


def _member_out(member: reads.MemberView) -> MemberOut:
    subscriber, suffix = plandata.split_member_id(member.member_id)
    return MemberOut(
        member_id=member.member_id,
        subscriber_id=subscriber,
        suffix=suffix,
        relation=member.relation,
        first_name=member.first_name,
        last_name=member.last_name,
        date_of_birth=member.date_of_birth,
    )


def _plan_out(catalog: reference.Catalog, coverage: reads.CoverageRow) -> PlanOut:
    product = catalog.products[coverage.product_id]
    return PlanOut(
        code=product.plan_code,
        name=product.plan_name,
        product_code=product.code,
        product=product.name,
    )


def _coverage_out(coverage: reads.CoverageRow) -> CoverageOut:
    return CoverageOut(
        effective_date=coverage.effective_date, termination_date=coverage.termination_date
    )


def _coverage_on(member: reads.MemberView, on: date) -> reads.CoverageRow | None:
    for coverage in member.coverages:
        if plandata.in_effect(coverage.effective_date, coverage.termination_date, on):
            return coverage
    return None


async def _build(
    session: AsyncSession,
    request: Request,
    member: reads.MemberView | None,
    inquiry: Inquiry,
    on: date,
    provider: reads.Provider,
    amounts: reads.YearAmounts,
) -> EligibilityAnswer:
    base: dict[str, Any] = {
        "date_of_service": on,
        "service_type_codes": inquiry.service_type_codes,
        "matched_provider": ProviderOut.model_validate(provider, from_attributes=True),
    }
    reason = _mismatch(member, inquiry)
    if reason is not None or member is None:
        return EligibilityAnswer(
            status="not_found", reason=reason, aaa_reject_code=AAA_REASONS[reason or ""], **base
        )
    base["member"] = _member_out(member)
    catalog = await request.app.state.reference.catalog(session)
    coverage = _coverage_on(member, on)
    if coverage is None:
        latest = member.coverages[-1] if member.coverages else None
        return EligibilityAnswer(
            status="inactive",
            reason="coverage_not_active",
            plan=_plan_out(catalog, latest) if latest else None,
            coverage=_coverage_out(latest) if latest else None,
            **base,
        )
    return EligibilityAnswer(
        status="active",
        plan=_plan_out(catalog, coverage),
        coverage=_coverage_out(coverage),
        network=coverage.network or provider.network_status,  # type: ignore[arg-type]
        pcp=PcpOut(npi=member.pcp_npi, name=member.pcp_name or "") if member.pcp_npi else None,
        benefits=_benefits(catalog, coverage, inquiry.service_type_codes, amounts),
        accumulators=_accumulators(catalog, coverage, amounts),
        **base,
    )


def _benefits(
    catalog: reference.Catalog,
    coverage: reads.CoverageRow,
    codes: list[str],
    amounts: reads.YearAmounts,
) -> list[BenefitOut]:
    wanted = set(codes)
    return [
        BenefitOut(
            service_type_code=b.service_type_code,
            service_type=SERVICE_TYPES.get(b.service_type_code, b.service_type_code),
            network=b.network,  # type: ignore[arg-type]
            covered=b.covered,
            copay=b.copay,
            coinsurance_percent=b.coinsurance_percent,
            deductible_applies=b.deductible_applies,
            prior_auth_required=b.prior_auth_required,
            visit_limit=b.visit_limit,
            visits_used=amounts.visits.get(b.service_type_code, 0) if b.visit_limit else None,
        )
        for b in catalog.benefits.get(coverage.product_id, [])
        if PLAN_COVERAGE in wanted or b.service_type_code in wanted
    ]


def _accumulators(
    catalog: reference.Catalog, coverage: reads.CoverageRow, amounts: reads.YearAmounts
) -> list[AccumulatorOut]:
    limits = {
        (c.kind, c.level, c.network): plandata.Limit(
            c.amount, amounts.met.get((c.kind, c.level, c.network), ZERO)
        )
        for c in catalog.limits.get(coverage.product_id, [])
    }
    return [
        AccumulatorOut(
            kind=kind,  # type: ignore[arg-type]
            level=level,  # type: ignore[arg-type]
            network=network,  # type: ignore[arg-type]
            amount=limit.amount,
            met=limit.met,
            remaining=limit.remaining,
        )
        for (kind, level, network), limit in sorted(limits.items())
    ]


@router.post(
    "/inquiries",
    response_model=EligibilityAnswer,
    responses=REFUSALS,
    summary="Eligibility and benefits of one member on a date of service",
)
async def inquire(
    inquiry: Inquiry,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> EligibilityAnswer:
    """Active, inactive or not found (with the 271 reason), plan, coverage dates, benefits
    for the asked service types with accumulators, PCP and prior-auth flags. Too many
    failed matches about a member or from a client are refused with 429."""
    guard = guessing.Guard(session, settings, principal.client_id)
    try:
        answer = await _answer_one(session, request, principal, inquiry, guard)
    except Exception as error:
        if not outages.is_outage(error):  # a refusal keeps its failed-match counters
            await session.commit()
        raise
    await session.commit()
    return answer


@router.post(
    "/inquiries/batch",
    response_model=BatchAnswer,
    responses={429: REFUSALS[429]},
    summary="Up to 100 inquiries, each answered (or refused) on its own",
)
async def inquire_batch(
    batch: BatchInquiry,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> BatchAnswer:
    """One result per inquiry, in order; a refused entry does not fail the others. Each
    failed match counts as one; past the limit the entries are refused (429 problems),
    and a client already over its limit gets 429 for the whole batch."""
    guard = guessing.Guard(session, settings, principal.client_id)
    await guard.lock_members([plandata.normalize_member_id(i.member_id) for i in batch.inquiries])
    await _refuse_locked_client(session, request, principal, guard)
    results, trail = [], list[AccessRecord]()
    for index, inquiry in enumerate(batch.inquiries):
        try:
            answer = await _answer_one(session, request, principal, inquiry, guard, trail)
            results.append(BatchEntry(index=index, outcome="answered", answer=answer))
        except Problem as refused:
            body = problem(
                refused.status,
                refused.title,
                refused.detail,
                type_slug=refused.type_slug,
                **refused.extensions,
            )
            results.append(BatchEntry(index=index, outcome="refused", problem=body))
    await audit.record_many(session, trail)
    await session.commit()
    return BatchAnswer(results=results)


async def _refuse_locked_client(
    session: AsyncSession, request: Request, principal: Principal, guard: guessing.Guard
) -> None:
    """A client over its failed-match limit gets 429 for the whole batch (audited once)."""
    if wait := await guard.wait(None):
        refused = Decision(False, "eligibility.read", guessing.REFUSED_REASON, "")
        await access.record(session, request, principal, refused)
        await session.commit()
        raise guessing.refusal(wait, guard.settings.plan_name)


def create_app(
    settings: Settings | None = None, *, verifier: TokenVerifier | None = None
) -> FastAPI:
    app = build_app(
        "Eligibility",
        "Member eligibility and benefits (X12 270/271-like), for providers whose Tax IDs "
        "match a provider record in effect on the date of service.",
        router,
        settings,
        verifier,
    )
    app.include_router(providers.router)  # which provider records the caller's TINs match
    return app
