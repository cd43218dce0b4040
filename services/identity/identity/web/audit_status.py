"""GET /status/audit: the audit trail's sealing lag (events waiting to be chained and
the age of the oldest), this process's sealer and its group-commit writer, for monitoring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from identity import audit

router = APIRouter(include_in_schema=False)


@router.get("/status/audit")
async def audit_status(request: Request) -> dict[str, Any]:
    async with request.app.state.sessionmaker() as session:
        state = await audit.status(session)
    writer = request.app.state.audit_writer
    return {
        **state.as_dict(),
        "sealer": request.app.state.sealer.describe(),
        "group_commit": writer.describe() if writer is not None else None,
    }
