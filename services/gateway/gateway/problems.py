"""RFC 9457 problem responses from the edge, each carrying the request id."""

from __future__ import annotations

from policy import PROBLEM_JSON, problem
from policy.fastjson import FastJSONResponse


def problem_response(
    status: int, title: str, detail: str, slug: str, request_id: str, **headers: str
) -> FastJSONResponse:
    body = problem(status, title, detail, type_slug=slug, request_id=request_id)
    return FastJSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"X-Request-ID": request_id, **headers},
    )
