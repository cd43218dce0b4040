"""The operator command line, run against a real database."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity import cli
from identity.models import AuditEvent, Client, Membership, Organization, SigningKey, User
from identity.password_policy import policy_for
from identity.security import verify_password


async def run(*argv: str) -> int:
    code: int = await anyio.to_thread.run_sync(cli.main, list(argv))
    return code


@pytest.fixture(autouse=True)
def database(identity_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", identity_db_url)


async def test_operator_builds_an_organization(
    sessions: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert await run("create-org", "Northwind Clinic") == 0
    org_id = capsys.readouterr().out.split()[-1]
    assert await run("add-tin", org_id, "11-2223333", "--label", "Northwind") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("Long.Enough-Passw0rd\n"))
    assert await run("create-user", "Nia.Reyes", "nia@northwind.example", "--password-stdin") == 0
    user_id = capsys.readouterr().out.split()[-1]
    assert (
        await run("add-membership", user_id, org_id, "--tin", "112223333", "--plan-role", "billing")
        == 0
    )
    async with sessions() as session:
        user = await session.get(User, user_id)
        membership = await session.scalar(select(Membership).where(Membership.user_id == user_id))
    assert user is not None and user.username_normalized == "nia.reyes"
    assert verify_password("Long.Enough-Passw0rd", user.password_hash)[0]
    assert membership is not None and membership.plan_roles == ["billing"]


async def test_duplicate_username_is_a_clear_error_with_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("first-Passphrase-2026\n"))
    assert await run("create-user", "dup.user", "a@example.org", "--password-stdin") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("second-Passphrase-2026\n"))
    assert await run("create-user", "DUP.USER", "b@example.org", "--password-stdin") == 2
    assert "username 'DUP.USER' is taken" in capsys.readouterr().err


async def test_bad_tin_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run("create-org", "Tin Test") == 0
    org_id = capsys.readouterr().out.split()[-1]
    assert await run("add-tin", org_id, "12-34") == 2
    assert "nine digits" in capsys.readouterr().err


async def test_create_client_prints_its_secret_once_and_stores_a_digest(
    sessions: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    code = await run(
        "create-client",
        "rp-1",
        "Relying party",
        "--kind",
        "confidential",
        "--auth-method",
        "client_secret_post",
        "--grant-type",
        "authorization_code",
        "--scope",
        "openid",
        "--redirect-uri",
        "https://rp.example/cb",
    )
    assert code == 0
    secret = capsys.readouterr().out.strip().split()[-1]
    async with sessions() as session:
        client = await session.get(Client, "rp-1")
    assert client is not None and client.secret_digest and secret not in client.secret_digest
    assert client.response_types == ["code"]


async def test_rotate_and_list_keys(
    sessions: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run("rotate-keys") == 2, "the next key was only just published"
    assert "--force" in capsys.readouterr().err
    assert await run("rotate-keys", "--force") == 0
    assert await run("list-keys") == 0
    listing = capsys.readouterr().out
    assert "active" in listing and "next" in listing and "retired" in listing
    async with sessions() as session:
        assert len(list(await session.scalars(select(SigningKey)))) == 3


async def test_seed_demo_is_idempotent(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert await run("seed-demo", "--data-dir", str(tmp_path)) == 0
    first = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert await run("seed-demo", "--data-dir", str(tmp_path)) == 0
    assert json.loads((tmp_path / "demo-credentials.json").read_text()) == first
    assert (tmp_path / "demo-credentials.json").stat().st_mode & 0o777 == 0o600
    async with sessions() as session:
        users = sorted(u.username for u in await session.scalars(select(User)))
    assert users == ["ever.admin", "hana.harb", "ops.olivia", "sam.biller"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for command in (
        "migrate",
        "create-org",
        "add-tin",
        "create-user",
        "add-membership",
        "create-client",
        "seed-demo",
        "rotate-keys",
        "list-keys",
        "list-orgs",
        "list-people",
        "list-clients",
    ):
        assert command in text


async def test_audit_verify_and_export(
    sessions: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert await run("create-org", "Audit Clinic") == 0
    assert await run("create-org", "Second Clinic") == 0
    assert await run("audit", "seal") == 0
    assert await run("audit", "verify") == 0
    assert "2 events verified" in capsys.readouterr().out
    today = datetime.now(UTC).date().isoformat()
    target = tmp_path / "audit.csv"
    assert (
        await run(
            "audit",
            "export",
            "--from",
            today,
            "--to",
            today,
            "--format",
            "csv",
            "--output",
            str(target),
        )
        == 0
    )
    assert target.read_text().count("organization.created") == 2
    async with sessions() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == 1).values(outcome="failure")
        )
        await session.commit()
    assert await run("audit", "verify") == 1
    assert "BROKEN at event 1" in capsys.readouterr().err


async def test_unlock_suspend_and_organization_security(
    sessions: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert await run("seed-demo", "--data-dir", str(tmp_path)) == 0
    async with sessions() as session:
        await session.execute(
            update(User)
            .where(User.username == "sam.biller")
            .values(locked_until=datetime.now(UTC) + timedelta(hours=1))
        )
        await session.commit()
        harbor = await session.scalar(
            select(Organization.id).where(Organization.name == "Harbor Billing Services")
        )
    assert await run("unlock", "SAM.BILLER") == 0
    assert await run("suspend", "hana.harb") == 0
    assert (
        await run(
            "set-org-security",
            str(harbor),
            "--password-policy",
            "payer-classic",
            "--require-mfa",
            "yes",
        )
        == 0
    )
    assert await run("unlock", "nobody") == 2
    async with sessions() as session:
        sam = await session.scalar(select(User).where(User.username == "sam.biller"))
        hana = await session.scalar(select(User).where(User.username == "hana.harb"))
        org = await session.get(Organization, harbor)
        policy = await policy_for(session, hana.id if hana else None, "nist")
    assert sam is not None and sam.locked_until is None
    assert hana is not None and hana.status == "suspended"
    assert org is not None and org.mfa_required and policy.name == "payer-classic"
    assert "no user 'nobody'" in capsys.readouterr().err


def portal_client(client_id: str, *extra: str) -> list[str]:
    return [
        "create-client",
        client_id,
        "A plan's portal",
        "--kind",
        "confidential",
        "--auth-method",
        "client_secret_basic",
        "--grant-type",
        "authorization_code",
        "--scope",
        "openid",
        "--redirect-uri",
        "https://portal.plan.example/portal/callback",
        *extra,
    ]


async def test_create_client_registers_its_logout_uris(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    code = await run(
        *portal_client(
            "portal-1",
            "--backchannel-logout-uri",
            "https://portal.plan.example:443/portal/backchannel-logout",
            "--post-logout-redirect-uri",
            "https://portal.plan.example/portal/signed-out",
        )
    )
    assert code == 0
    async with sessions() as session:
        client = await session.get(Client, "portal-1")
    assert client is not None
    assert client.backchannel_logout_uri == (
        "https://portal.plan.example:443/portal/backchannel-logout"
    )
    assert client.post_logout_redirect_uris == ["https://portal.plan.example/portal/signed-out"]


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (
            ["--backchannel-logout-uri", "https://portal.plan.example/logout#now"],
            "absolute http(s) URI without a fragment",
        ),
        (["--backchannel-logout-uri", "/portal/logout"], "absolute http(s) URI"),
        (["--post-logout-redirect-uri", "javascript:alert(1)"], "absolute http(s) URI"),
    ],
)
async def test_create_client_refuses_a_bad_logout_uri_with_exit_2(
    sessions: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    said: str,
) -> None:
    assert await run(*portal_client("portal-2", *extra)) == 2
    assert said in capsys.readouterr().err
    async with sessions() as session:
        assert await session.get(Client, "portal-2") is None


async def test_back_channel_logout_is_for_clients_that_sign_people_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await run(
        "create-client",
        "machine-1",
        "A machine",
        "--kind",
        "confidential",
        "--auth-method",
        "client_secret_basic",
        "--grant-type",
        "client_credentials",
        "--scope",
        "claims:read",
        "--backchannel-logout-uri",
        "https://machine.example/logout",
    )
    assert code == 2
    assert "for clients with authorization_code" in capsys.readouterr().err
