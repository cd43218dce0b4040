"""`make login`: sign in through the browser as a command-line relying party.

The public client `tinpass-cli` runs the authorization code flow with PKCE
(RFC 7636) and a loopback redirect on a port the system chooses (RFC 8252 §7.3:
identity accepts any port of its registered `http://127.0.0.1/callback`): open the
printed URL, sign in, and the access token is printed and saved to data/token.txt. The
token is for Cascade's APIs; `TINPASS_RESOURCE=https://api.summit.plans.example`
asks for Summit's (RFC 8707). `TINPASS_PORT_BASE` is the one `make run` was given.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

# `make run`'s ports, moved together by TINPASS_PORT_BASE (deploy/run_local.py)
BASE = int(os.environ.get("TINPASS_PORT_BASE") or 8000)
ISSUER = os.environ.get("TINPASS_ISSUER", f"http://127.0.0.1:{BASE}")
# RFC 8707: the plan whose APIs the token is for (tinpass-cli may use both; Cascade's default).
RESOURCE = os.environ.get("TINPASS_RESOURCE", "https://api.cascade.plans.example")
GATEWAYS = {"https://api.summit.plans.example": f"http://127.0.0.1:{BASE + 81}"}
GATEWAY = GATEWAYS.get(RESOURCE, f"http://127.0.0.1:{BASE + 80}")
DATA = Path(os.environ.get("TINPASS_DATA_DIR", "data"))


def _callback_server() -> tuple[HTTPServer, dict[str, str], threading.Event]:
    """A loopback server on a free port that keeps the first redirect's query."""
    result: dict[str, str] = {}
    done = threading.Event()

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            if not done.is_set():
                result.update(query)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"TINpass: you can close this tab and return to the terminal.\n")
            done.set()

        def log_message(self, format: str, *args: object) -> None:
            return

    return HTTPServer(("127.0.0.1", 0), Callback), result, done


def main(issuer: str = ISSUER, data: Path = DATA, gateway: str = GATEWAY) -> int:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    state = secrets.token_urlsafe(16)
    server, result, done = _callback_server()
    redirect = f"http://127.0.0.1:{server.server_port}/callback"
    params = {
        "response_type": "code",
        "client_id": "tinpass-cli",
        "redirect_uri": redirect,
        "scope": "openid profile eligibility:read claims:read claims:write",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": secrets.token_urlsafe(12),
        "resource": RESOURCE,
    }
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(
        "Open this URL in your browser and sign in (e.g. sam.biller / Demo.Passw0rd-2026):\n\n"
        f"  {issuer}/authorize?{urlencode(params)}\n",
        flush=True,
    )
    done.wait()
    server.shutdown()
    server.server_close()
    if result.get("state") != state or "code" not in result:
        print(
            f"Sign-in failed: {result.get('error', 'state mismatch')}: "
            f"{result.get('error_description', '')}"
        )
        return 1
    response = httpx.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": redirect,
            "client_id": "tinpass-cli",
            "code_verifier": verifier,
        },
    )
    if response.status_code != 200:
        print(f"Token request failed: {response.text}")
        return 1
    _save(response.json()["access_token"], data, gateway)
    return 0


def _save(access: str, data: Path, gateway: str) -> None:
    data.mkdir(exist_ok=True)
    (data / "token.txt").write_text(access)
    claims = json.loads(base64.urlsafe_b64decode(access.split(".")[1] + "=="))
    print(f"Access token saved to {data / 'token.txt'}. Its claims:")
    print(
        json.dumps(
            {k: claims[k] for k in ("sub", "aud", "org_id", "tax_ids", "roles", "scope", "exp")},
            indent=2,
        )
    )
    print(
        f'\nTry:  curl -s -H "Authorization: Bearer $(cat {data / "token.txt"})" '
        f"{gateway}/claims/v1/claims"
    )


if __name__ == "__main__":
    sys.exit(main())
