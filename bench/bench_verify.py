"""Access-token verification with a warm JWKS cache: no network call per request.

Verifications per second on one core for RS256 and ES256 tokens, and the number
of JWKS fetches made (one, at the start).
"""

from __future__ import annotations

import time

from policy import TokenVerifier
from tests.support.tokens import AUDIENCE, ISSUER, JWKS_URI, TestIssuer

ROUNDS = 2000


async def run() -> None:
    issuer = TestIssuer()
    async with issuer.http_client() as client:
        verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URI, http_client=client)
        await verifier.prime()
        print(f"{'alg':<8}{'verifications/s':>18}{'µs each':>10}")
        for name, key in (("RS256", issuer.rsa), ("ES256", issuer.ec)):
            token = issuer.mint(key)
            started = time.perf_counter()
            for _ in range(ROUNDS):
                await verifier.verify(token)
            elapsed = time.perf_counter() - started
            print(f"{name:<8}{ROUNDS / elapsed:>18,.0f}{elapsed / ROUNDS * 1e6:>10.0f}")
        await verifier.stop()
    print(f"JWKS fetches for {2 * ROUNDS} verifications: {issuer.fetches}")
