"""Security headers on every response (OWASP Secure Headers).

Content-Security-Policy allows only this origin's scripts (no inline script: the one
script, /static/time.js, shows times in the viewer's time zone), styles and
images (plus data: images for the server-rendered QR code); no page may be
framed (clickjacking); no referrer leaves the site, so no code or state in a URL
leaks; HSTS when served over https.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
CSP_NAME = b"content-security-policy"


class SecurityHeaders:
    """Plain ASGI middleware: the headers are added to the response's start message.

    A response's own Content-Security-Policy is kept (the API docs page has its own);
    every other header here replaces any the response set. The raw header pairs are
    built once, so a response costs one pass over its headers.
    """

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure
        fixed = {
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
        }
        if secure:
            fixed["Strict-Transport-Security"] = HSTS
        self._fixed = [(k.lower().encode(), v.encode()) for k, v in fixed.items()]
        self._replaced = frozenset(name for name, _ in self._fixed)
        self._csp = (CSP_NAME, CSP.encode())

    def _headers(self, raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        kept: list[tuple[bytes, bytes]] = []
        has_csp = False
        for name, value in raw:
            lowered = name.lower()
            if lowered in self._replaced:
                continue
            has_csp = has_csp or lowered == CSP_NAME
            kept.append((name, value))
        if not has_csp:
            kept.append(self._csp)
        kept += self._fixed
        return kept

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._headers(list(message.get("headers", ())))
            await send(message)

        await self.app(scope, receive, send_with_headers)
