"""nginx (Debian's package) as the load balancer in front of service replicas.

The configuration is made here (`config`), written to a directory of nginx's own with
its pid file, logs and temporary paths, and nginx runs in the foreground from it
(`nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'`) on unprivileged ports: no system
service, nothing under /etc. One `server` per service listens on the service's public
port and spreads requests round-robin over an `upstream` of its replicas.

Retries (`proxy_next_upstream error timeout http_502 http_503`): a request that could
not be sent to a replica (refused, reset before it was written, connect timeout), or
that a replica answered 502 or 503, goes to the other replica, at most once more.
nginx never resends a POST it has already written to a replica (unless
`non_idempotent` says it may): POST /token redeems a code or rotates a refresh token,
and a login, an eligibility inquiry or a form post are not to run twice. The one
exception is a claim submission (POST /claims/v1/claims and .../bulk) carrying an
`Idempotency-Key`: the claims service answers a repeat of that key with the first
answer, or 409 while the first is still running, so resending it to the other
replica cannot make a second claim. Everything else that fails in flight reaches the
client as 502, and the client decides (the claims API's clients retry with their key).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.stack import StackError
from policy.problems import problem

# nginx connects to the replicas from this address, so the services can trust the
# forwarded headers of nginx alone (`*_TRUSTED_PROXIES`) and not of every local process.
PROXY_ADDRESS = "127.0.0.2"
# uvicorn closes an idle keep-alive connection after 5 s: nginx drops its own sooner,
# so it never writes a request onto a connection the replica is closing.
UPSTREAM_KEEPALIVE_SECONDS = 4
# Paths where a POST with an Idempotency-Key may be resent to the other replica
# (exactly POST /claims/v1/claims and /claims/v1/claims/bulk, which honour the key).
CLAIM_SUBMISSIONS = "~ ^/claims/v1/claims(/bulk)?$"
RETRIED_ON = "error timeout http_502 http_503"
# A replica that failed once is left out this many seconds, then tried again.
FAIL_TIMEOUT = 2


@dataclass(frozen=True)
class Front:
    """One service behind nginx: where nginx listens for it and its replicas' ports."""

    name: str  # the upstream's name: the service, e.g. "summit-gateway"
    port: int
    replicas: tuple[int, ...]
    keyed_submissions: bool = False  # it serves claim submissions (claims, gateway)


def binary() -> str | None:
    """Debian's nginx (in /usr/sbin, which an unprivileged PATH may lack), or None."""
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )


def can_bind(address: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


def _upstream(front: Front) -> str:
    servers = "".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout={FAIL_TIMEOUT}s;\n"
        for port in front.replicas
    )
    return (
        f"    upstream {front.name} {{\n{servers}"
        f"        keepalive 16;\n"
        f"        keepalive_timeout {UPSTREAM_KEEPALIVE_SECONDS}s;\n"
        f"    }}\n"
    )


def _answer(status: int, slug: str, title: str, detail: str) -> str:
    """nginx's own answer when no replica did: an RFC 9457 problem, as the services'."""
    body = problem(status, title, detail, type_slug=slug, request_id="$tinpass_request_id")
    text = json.dumps(body, separators=(",", ":"))
    assert "'" not in text and "\\" not in text, "quoted as is in nginx.conf"
    return f"return {status} '{text}';"


def _unavailable(front: Front) -> str:
    """Named locations for nginx's own 502 and 504: problems with Retry-After."""
    what = f"No replica of the {front.name} service"
    answers = {
        "@unavailable": _answer(
            502,
            "upstream-unavailable",
            "Upstream unavailable",
            f"{what} could be reached. Try again shortly.",
        ),
        "@timeout": _answer(
            504,
            "upstream-timeout",
            "Upstream timed out",
            f"{what} answered in time. Try again shortly.",
        ),
    }
    return "".join(
        f"        location {name} {{\n"
        f"            default_type application/problem+json;\n"
        f'            add_header X-Upstream "{front.name}=$upstream_addr" always;\n'
        f"            add_header Retry-After 1 always;\n"
        f"            {answer}\n"
        f"        }}\n"
        for name, answer in answers.items()
    )


ERROR_PAGES = "error_page 502 = @unavailable; error_page 504 = @timeout;"


def _server(front: Front) -> str:
    keyed = ""
    if front.keyed_submissions:
        # `if` may only return here: 418 hands a keyed POST to @keyed, which may resend
        # it (recursive: @keyed's own 502 or 504 still becomes a problem).
        keyed = (
            f"        location {CLAIM_SUBMISSIONS} {{\n"
            f"            {ERROR_PAGES} error_page 418 = @keyed;\n"
            f"            recursive_error_pages on;\n"
            f"            if ($tinpass_keyed_post) {{ return 418; }}\n"
            f"            proxy_pass http://{front.name};\n"
            f"        }}\n"
            f"        location @keyed {{\n"
            f"            proxy_pass http://{front.name};\n"
            f"            proxy_next_upstream {RETRIED_ON} non_idempotent;\n"
            f"        }}\n"
        )
    return (
        f"    server {{\n"
        f"        listen 127.0.0.1:{front.port};\n"
        f'        add_header X-Upstream "{front.name}=$upstream_addr" always;\n'
        f"        {ERROR_PAGES}\n"
        f"        location / {{\n"
        f"            proxy_pass http://{front.name};\n"
        f"        }}\n"
        f"{keyed}"
        f"{_unavailable(front)}"
        f"    }}\n"
    )


def config(fronts: Sequence[Front], prefix: Path, proxy_address: str | None) -> str:
    """nginx.conf for these fronts, every path under `prefix`."""
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""  # workers never as root
    bind = f"    proxy_bind {proxy_address};\n" if proxy_address else ""
    temp = prefix / "temp"
    return (
        "# Made by deploy/nginx.py at every start; edits are lost.\n"
        f"{user}"
        "worker_processes 1;\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    log_format tinpass '$remote_addr \"$request\" $status $request_time '\n"
        "        'upstream=$upstream_addr $upstream_status id=$tinpass_request_id';\n"
        f"    access_log {prefix}/access.log tinpass;\n"
        f"    client_body_temp_path {temp}/body;\n"
        f"    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n"
        f"    uwsgi_temp_path {temp}/uwsgi;\n"
        f"    scgi_temp_path {temp}/scgi;\n"
        "    server_tokens off;\n"
        # Bodies are kept in memory (a bulk of 1,000 claims fits): no temporary files.
        "    client_max_body_size 8m;\n"
        "    client_body_buffer_size 8m;\n"
        "    proxy_max_temp_file_size 0;\n"
        # The caller's request id when it sent one (the services check it), else nginx's.
        '    map $http_x_request_id $tinpass_request_id { "" $request_id; default '
        "$http_x_request_id; }\n"
        '    map "$request_method:$http_idempotency_key" $tinpass_keyed_post '
        '{ "~^POST:." 1; default ""; }\n'
        "    proxy_http_version 1.1;\n"
        '    proxy_set_header Connection "";\n'
        "    proxy_set_header Host $http_host;\n"
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "    proxy_set_header X-Forwarded-Proto $scheme;\n"
        "    proxy_set_header X-Request-ID $tinpass_request_id;\n"
        "    proxy_connect_timeout 2s;\n"
        "    proxy_send_timeout 60s;\n"
        "    proxy_read_timeout 60s;\n"
        f"    proxy_next_upstream {RETRIED_ON};\n"
        "    proxy_next_upstream_tries 2;\n"
        f"{bind}" + "".join(_upstream(front) + _server(front) for front in fronts) + "}\n"
    )


@dataclass
class Nginx:
    """nginx run from `prefix` (config, pid, logs, temporary files) in the foreground."""

    prefix: Path
    fronts: Sequence[Front]
    proxy_address: str | None = PROXY_ADDRESS

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    def command(self) -> list[str]:
        nginx = binary()
        if nginx is None:
            raise StackError("nginx is not installed: run deploy/ensure_nginx.sh")
        return [nginx, "-p", str(self.prefix), "-c", str(self.conf), "-g", "daemon off;"]

    def write(self) -> None:
        (self.prefix / "temp").mkdir(parents=True, exist_ok=True)
        if self.proxy_address and not can_bind(self.proxy_address):
            raise StackError(
                f"nginx's source address {self.proxy_address} cannot be used here (it is on "
                "Linux's loopback): the services trust forwarded headers from it alone"
            )
        self.conf.write_text(config(self.fronts, self.prefix, self.proxy_address))

    async def spawn(self) -> asyncio.subprocess.Process:
        """Check the configuration (`nginx -t`), then start nginx; its process."""
        self.write()
        check = await asyncio.create_subprocess_exec(
            *self.command(), "-t", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await check.communicate()
        if check.returncode != 0:
            raise StackError(f"nginx refused {self.conf}:\n{output.decode(errors='replace')}")
        with (self.prefix / "nginx.out").open("ab") as out:
            return await asyncio.create_subprocess_exec(*self.command(), stdout=out, stderr=out)

    async def wait_listening(self, process: asyncio.subprocess.Process, within: float) -> None:
        """Until every front accepts connections (nginx binds them all before serving)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        for front in self.fronts:
            while True:
                if process.returncode is not None:
                    raise StackError(f"nginx exited with {process.returncode}{self.log_hint}")
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", front.port)
                    writer.close()
                    await writer.wait_closed()
                    break
                if loop.time() > deadline:
                    raise StackError(f"nginx did not listen on {front.port}{self.log_hint}")
                await asyncio.sleep(0.05)

    @property
    def log_hint(self) -> str:
        return f" (see {self.prefix / 'error.log'} and {self.prefix / 'nginx.out'})"
