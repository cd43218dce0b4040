"""wrk: installing it, writing its Lua scripts, running it and reading its result.

Every script ends with the same `done` hook, which prints one line
`WRK_JSON {...}` with the request count, duration, p50/p99 latency (µs) and the
error counts; `parse` reads that line, so nothing depends on wrk's text report.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONNECTIONS = 32
MARKER = "WRK_JSON "

DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and HTTP statuses above 399

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse(output: str) -> WrkResult:
    """The result from wrk's output (the `done` hook's line)."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1e3,
                p99_ms=data["p99_us"] / 1e3,
                errors=errors,
            )
    raise ValueError(f"no {MARKER.strip()} line in wrk's output:\n{output}")


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for ASCII text


def post_script(body: str, headers: dict[str, str]) -> str:
    """The same POST on every request (wrk's fast path: no per-request Lua)."""
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(body)}"]
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n" + DONE_HOOK


NONCE_MARK = "BENCHNONCE"  # stands for each request's own nonce in `login_script`'s templates

LOGIN_CHECKS = """
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
local run = string.format("%x%x", os.time(), math.floor(os.clock() * 1000000))
local n = 0
bad = 0  -- a global: `done` reads it from each thread
local function fresh(parts)
  n = n + 1
  return parts[1] .. "r" .. run .. "t" .. id .. "n" .. n .. parts[2]
end
response = function(status, headers, body)
  local location = headers["location"] or headers["Location"] or ""
  if not (status == 200 or (status == 302 and string.find(location, "?code=", 1, true))) then
    bad = bad + 1
  end
end
"""

LOGIN_DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  local refused = 0
  for _, thread in ipairs(threads) do refused = refused + thread:get("bad") end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status + refused, e.timeout))
end
"""


def login_script(get_path: str, post_path: str, body: str, headers: dict[str, str]) -> str:
    """GET `get_path`, then POST `body` to `post_path`, in turn, each request with a nonce
    of its own in place of NONCE_MARK (which each template holds once): a nonce seen
    before is a replay, answered with an error redirect instead of a form or a code.
    Any answer but a page (200) or a redirect carrying a code counts as an error."""
    for template in (get_path, body):
        if template.count(NONCE_MARK) != 1:
            raise ValueError(f"{NONCE_MARK} must appear once in {template!r}")
    get_parts = ", ".join(lua_string(part) for part in get_path.split(NONCE_MARK))
    body_parts = ", ".join(lua_string(part) for part in body.split(NONCE_MARK))
    header_table = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    return (
        LOGIN_CHECKS
        + f"""
local get_parts = {{{get_parts}}}
local body_parts = {{{body_parts}}}
local post_headers = {{{header_table}}}
request = function()
  if n % 2 == 0 then return wrk.format("GET", fresh(get_parts)) end
  return wrk.format("POST", {lua_string(post_path)}, post_headers, fresh(body_parts))
end
"""
        + LOGIN_DONE_HOOK
    )


def ensure_installed() -> str:
    """The wrk binary; installs the Debian package when missing (needs root)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("Installing wrk (apt-get install -y wrk)...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*prefix, "apt-get", "install", "-y", "-q", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def threads() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


async def run(url: str, script: str, seconds: float, connections: int = CONNECTIONS) -> WrkResult:
    """Run wrk against `url` with the Lua `script` for `seconds`; kill it if interrupted."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.lua"
        path.write_text(script)
        process = await asyncio.create_subprocess_exec(
            ensure_installed(),
            f"-t{min(threads(), connections)}",  # wrk wants a connection per thread
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout=10s",
            "-s",
            str(path),
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return parse(output.decode(errors="replace"))
