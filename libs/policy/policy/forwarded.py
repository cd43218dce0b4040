"""Whom a service believes about the client's address: configured proxies only.

A request's source address (login throttles, rate limits, audit events) is the
peer of the connection unless that peer is one of the service's configured
proxies (`*_TRUSTED_PROXIES`: addresses or networks, none by default); then
`X-Forwarded-For` (the nearest address not itself a trusted proxy) and
`X-Forwarded-Proto` are used, with uvicorn's own proxy-headers middleware. Uvicorn
must be started with `--no-proxy-headers` (deploy/stack.py does): by default it
trusts those headers from 127.0.0.1, so anyone on the host could choose their
address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

UVICORN_FLAGS = ("--no-proxy-headers",)


def parse_proxies(value: str | Iterable[str]) -> list[str]:
    """Proxy addresses and networks from "10.0.0.5, 10.1.0.0/16" or a list; checked."""
    items = value.split(",") if isinstance(value, str) else list(value)
    proxies = [item.strip() for item in items if item.strip()]
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as error:
            raise ValueError(
                f"{proxy!r} is not an IP address or network; list the proxies in front of "
                "this service like 10.0.0.5 or 10.1.0.0/16, separated by commas"
            ) from error
    return proxies


def install(app: Any, proxies: list[str]) -> None:
    """Trust forwarded headers from `proxies` only (nothing happens for none).

    Call last when building the app, so the address is settled before anything reads it.
    """
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
