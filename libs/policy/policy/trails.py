"""One service's audit trail and what its operators and its processes do with it,
written once for every service: where its checkpoints are signed and kept, the
sealer task each process runs, the group-commit writer of events that accompany no
change (`policy.audit_batch`), sealing now, the sealing lag, verification, and the
`audit verify | seal | status` commands of each service's command line.

A service describes its trail (`policy.sealing.Trail`: tables and the content the
hash covers) and writes its events; everything else is here."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from policy import sealing
from policy.audit import Verification
from policy.audit_batch import GroupCommitWriter
from policy.checkpoints import CheckpointError, Vault, resolve_vault
from policy.sealer import Sealer


class AuditSettings(Protocol):
    """The settings of a service that keeps a trail (`<PREFIX>_AUDIT_...`)."""

    @property
    def database_url(self) -> str: ...
    @property
    def audit_signing_key_file(self) -> str: ...
    @property
    def audit_checkpoint_dir(self) -> str: ...
    @property
    def audit_seal_interval(self) -> float: ...
    @property
    def audit_seal_batch(self) -> int: ...
    @property
    def audit_checkpoint_interval(self) -> float: ...
    @property
    def audit_batch_size(self) -> int: ...


@dataclass(frozen=True)
class AuditTrail:
    trail: sealing.Trail

    def vault(self, settings: AuditSettings) -> Vault:
        """Where the trail's checkpoints are signed and kept (settings, or development's)."""
        return resolve_vault(
            self.trail.service,
            settings.database_url,
            settings.audit_signing_key_file,
            settings.audit_checkpoint_dir,
        )

    def sealer(self, engine: AsyncEngine, settings: AuditSettings) -> Sealer:
        return Sealer(
            engine,
            self.trail,
            interval=settings.audit_seal_interval,
            batch=settings.audit_seal_batch,
            vault=self.vault(settings),
            checkpoint_interval=settings.audit_checkpoint_interval,
        )

    def writer(self, engine: AsyncEngine, settings: AuditSettings) -> GroupCommitWriter | None:
        """The group-commit writer of events that accompany no change (None when
        `<PREFIX>_AUDIT_BATCH_SIZE` is 0: every event in its request's own transaction)."""
        if settings.audit_batch_size == 0:
            return None
        return GroupCommitWriter(engine, self.trail.events, max_batch=settings.audit_batch_size)

    async def seal(self, session: AsyncSession, batch: int = 1000) -> sealing.Head:
        """Chain every event committed so far (commits each batch)."""
        return await sealing.seal_pending(session, self.trail, batch)

    async def status(self, session: AsyncSession) -> sealing.Status:
        return await sealing.status(session, self.trail)

    async def verify(
        self,
        session: AsyncSession,
        checkpoints: Vault | None = None,
        public_keys: Iterable[Path] = (),
    ) -> Verification:
        """The chain, and with a vault its signed checkpoints (CheckpointError if one of
        them is not genuine)."""
        signed = checkpoints.read(public_keys) if checkpoints is not None else []
        return await sealing.verify(session, self.trail, signed)

    async def checked(
        self, session: AsyncSession, vault: Vault, public_keys: Iterable[Path]
    ) -> tuple[bool, str]:
        """`audit verify`: whether the trail is intact, and what to say."""
        try:
            result = await self.verify(session, vault, public_keys)
        except CheckpointError as error:
            return False, f"audit trail BROKEN: {error}"
        return result.ok, result.describe()

    async def sealed(self, session: AsyncSession, vault: Vault) -> tuple[bool, str]:
        """`audit seal`: chain everything now and sign a checkpoint of the head; False
        when the events were sealed but no checkpoint could be signed."""
        head = await self.seal(session)
        said = f"sealed {head.count} events; the chain ends at event {head.seq}"
        try:
            signed = await asyncio.to_thread(vault.sign_if_new, head.seq, head.hash)
        except FileNotFoundError as error:
            return False, f"{said}, but no checkpoint was signed: {error}"
        return True, said + (f"; checkpoint {signed.filename} signed" if signed else "")


def add_commands(commands: Any, help: str) -> Any:
    """The `audit` command with `verify`, `seal` and `status` (as `audit_command`);
    returns its subcommands, for a service to add its own."""
    parser = commands.add_parser("audit", help=help)
    actions = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify: argparse.ArgumentParser = actions.add_parser(
        "verify",
        help="walk the hash chain and check it against the signed checkpoints; "
        "name the first altered, removed or reordered event",
    )
    verify.add_argument(
        "--public-key",
        action="append",
        type=Path,
        default=[],
        help="a public key (PEM) checkpoints may be signed with besides the configured "
        "key's, e.g. a retired one (repeatable)",
    )
    actions.add_parser(
        "seal", help="chain every committed event now and sign a checkpoint of the head"
    )
    actions.add_parser(
        "status", help="the sealing lag: events waiting to be chained, the oldest's age"
    )
    return actions
