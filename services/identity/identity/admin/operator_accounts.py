"""Operators suspend and reactivate any account (operator-level suspensions), through
the operators' API (`/api/v1/operator/users/...`) or `identity suspend|reactivate`.

An operator-level suspension can be lifted only by an operator; an organization's
administrator lifts only the suspensions made at organization level
(`identity.suspensions`). Each change is one transaction with its audit event.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from identity import suspensions
from identity.admin.auth import CurrentOperator
from identity.deps import SessionDep, request_id, source_address
from identity.models import User
from policy.problems import Problem

router = APIRouter(prefix="/api/v1/operator/users", tags=["operators"])


async def _change(
    request: Request, operator: User, session: AsyncSession, user_id: str, suspend: bool
) -> dict[str, Any]:
    user = await session.get(User, user_id)
    if user is None or user.status not in {"active", "suspended"}:
        raise Problem(404, "Not found", "No active or suspended account has that id.", "not-found")
    await suspensions.by_operator(
        session,
        user,
        suspend,
        ("user", operator.id),
        (request_id(request), source_address(request)),
    )
    await session.commit()
    return {"status": user.status, "suspension_level": user.suspension_level}


@router.post("/{user_id}/suspend")
async def suspend(
    user_id: str, request: Request, operator: CurrentOperator, session: SessionDep
) -> Any:
    return await _change(request, operator, session, user_id, True)


@router.post("/{user_id}/reactivate")
async def reactivate(
    user_id: str, request: Request, operator: CurrentOperator, session: SessionDep
) -> Any:
    return await _change(request, operator, session, user_id, False)
