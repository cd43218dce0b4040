"""JSON responses serialized with orjson (the same compact UTF-8 JSON as Starlette's).

Routes with a response model are serialized by FastAPI through pydantic straight to
bytes; this class is for the bodies the services build themselves (problems, health).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
