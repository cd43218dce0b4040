"""Migration 0006 moves existing TINs onto the one verification path."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from sqlalchemy import text

from identity.db import create_engine, migrate
from tests.support.databases import fresh_database

FIXTURE = [
    "INSERT INTO organizations (id, name, status, mfa_required, created_at, street, city,"
    " state, postal_code, phone, npis)"
    " VALUES ('o1', 'Verified', 'active', false, CURRENT_TIMESTAMP, '', '', '', '', '', '[]'),"
    " ('o2', 'Applicant', 'pending_verification', false, CURRENT_TIMESTAMP, '', '', '', '',"
    " '', '[]')",
    "INSERT INTO tax_ids (id, organization_id, tin, label, status, created_at) VALUES"
    " ('t1', 'o1', '123456789', '', 'active', CURRENT_TIMESTAMP),"
    " ('t2', 'o1', '555000111', '', 'pending_approval', CURRENT_TIMESTAMP),"
    " ('t3', 'o2', '770000001', '', 'active', CURRENT_TIMESTAMP)",
    "INSERT INTO users (id, username, username_normalized, email, email_normalized,"
    " given_name, family_name, status, created_at, failed_logins, lockouts, is_operator)"
    " VALUES ('u1', 'u', 'u', 'u@example.org', 'u@example.org', '', '', 'active',"
    " CURRENT_TIMESTAMP, 0, 0, false)",
    "INSERT INTO memberships (id, user_id, organization_id, role, plan_roles, created_at)"
    " VALUES ('m1', 'u1', 'o1', 'administrator', '[]', CURRENT_TIMESTAMP),"
    " ('m2', 'u1', 'o2', 'administrator', '[]', CURRENT_TIMESTAMP)",
    "INSERT INTO membership_tax_ids (membership_id, tax_id_id) VALUES ('m1', 't1'), ('m2', 't3')",
]


async def test_unreviewed_tins_wait_and_lose_their_grants(tmp_path: Path) -> None:
    """`pending_approval` and the TIN of a registration no operator decided become
    `pending_verification` (granted to nobody); verified organizations' TINs stay
    active, marked as recorded before verification existed."""
    async with fresh_database("idtins", tmp_path) as url:
        engine = create_engine(url)
        try:
            await anyio.to_thread.run_sync(migrate, url, "0005")
            async with engine.begin() as connection:
                for statement in FIXTURE:
                    await connection.execute(text(statement))
            await anyio.to_thread.run_sync(migrate, url, "0006")
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        text("SELECT id, status, attestation FROM tax_ids ORDER BY id")
                    )
                ).all()
                grants = (
                    await connection.execute(text("SELECT tax_id_id FROM membership_tax_ids"))
                ).all()
        finally:
            await engine.dispose()
    statuses = {r[0]: r[1] for r in rows}
    assert statuses == {
        "t1": "active",
        "t2": "pending_verification",
        "t3": "pending_verification",
    }
    assert "before TINpass verified" in str(rows[0][2]) and rows[1][2] is None
    assert [g[0] for g in grants] == ["t1"], "no grant of an unverified TIN survives"
