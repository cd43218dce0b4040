"""Signed checkpoints of an audit chain's head, kept outside the database.

The sealer (policy.sealer) periodically signs (service, seq, hash, time) with an
Ed25519 private key that lives in a file, never in the database, and writes the
result as one JSON file per checkpoint (`<service>-<seq>.json`) in a directory. A
person who can write the database but not the key cannot make a rewritten or
truncated history agree with those files: `policy.sealing.verify` compares the
chain's hash at each checkpoint's seq with the signed one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_KEY_FILE = "signing-key.pem"
CHECKPOINT_DIR = "checkpoints"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """The key in `path` (PEM, PKCS#8); with `create`, a new one is made there first
    if there is none (development), atomically and readable by its owner only."""
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"no audit signing key at {path}")
        _create_key(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds no Ed25519 private key")
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, pem)
        os.close(handle)
        # A link fails if another process made the key meanwhile: then both use that one.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key file (PEM), or the public half of a private key file."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} holds no Ed25519 key")
        return private.public_key()
    public = serialization.load_pem_public_key(data)
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"{path} holds no Ed25519 public key")
    return public


@dataclass(frozen=True)
class Checkpoint:
    service: str
    seq: int
    hash: str
    signed_at: str
    key_id: str
    signature: str = ""

    def payload(self) -> bytes:
        fields = asdict(self)
        del fields["signature"]
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    @property
    def filename(self) -> str:
        return f"{self.service}-{self.seq:012d}.json"


def sign(key: Ed25519PrivateKey, service: str, seq: int, chain_hash: str) -> Checkpoint:
    unsigned = Checkpoint(
        service=service,
        seq=seq,
        hash=chain_hash,
        signed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        key_id=key_id(key.public_key()),
    )
    signature = base64.urlsafe_b64encode(key.sign(unsigned.payload())).decode().rstrip("=")
    return Checkpoint(**{**asdict(unsigned), "signature": signature})


def write(directory: Path, checkpoint: Checkpoint) -> Path:
    """Write the checkpoint file atomically (a reader never sees half of one)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / checkpoint.filename
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".checkpoint-")
    with os.fdopen(handle, "w") as out:
        json.dump(asdict(checkpoint), out, sort_keys=True, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    return target


class CheckpointError(Exception):
    """A checkpoint file that cannot be trusted (unreadable, unsigned, forged)."""


def _decode(raw: str) -> bytes:
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def _check(path: Path, service: str, keys: dict[str, Ed25519PublicKey]) -> Checkpoint:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        checkpoint = Checkpoint(
            service=str(data["service"]),
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            signed_at=str(data["signed_at"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"checkpoint {path.name} is unreadable ({error})") from error
    if checkpoint.service != service or path.name != checkpoint.filename:
        raise CheckpointError(f"checkpoint {path.name} names another service or seq")
    public = keys.get(checkpoint.key_id)
    if public is None:
        raise CheckpointError(
            f"checkpoint {path.name} is signed by key {checkpoint.key_id}, not a key given"
        )
    try:
        public.verify(_decode(checkpoint.signature), checkpoint.payload())
    except (InvalidSignature, ValueError) as error:
        raise CheckpointError(f"checkpoint {path.name} has a bad signature") from error
    return checkpoint


def read_all(
    directory: Path, service: str, public_keys: Iterable[Ed25519PublicKey]
) -> list[Checkpoint]:
    """Every checkpoint of `service` in `directory`, signatures checked, by seq.

    Raises CheckpointError for the first file that does not verify."""
    keys = {key_id(k): k for k in public_keys}
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob(f"{service}-*.json"))
    return [_check(path, service, keys) for path in paths]


def latest_seq(directory: Path, service: str) -> int:
    """The highest seq checkpointed in `directory` (0 for none); names only, no checks."""
    seqs = [0]
    if directory.is_dir():
        for path in directory.glob(f"{service}-*.json"):
            with contextlib.suppress(ValueError):
                seqs.append(int(path.stem.rpartition("-")[2]))
    return max(seqs)


@dataclass(frozen=True)
class Vault:
    """Where a service's checkpoints are signed and kept: its key file and directory.

    `create_key` (development and tests only) makes a key on first use."""

    service: str
    key_file: Path
    directory: Path
    create_key: bool = False

    def private_key(self) -> Ed25519PrivateKey:
        return load_private_key(self.key_file, create=self.create_key)

    def sign_and_write(self, seq: int, chain_hash: str) -> Checkpoint:
        checkpoint = sign(self.private_key(), self.service, seq, chain_hash)
        write(self.directory, checkpoint)
        return checkpoint

    def sign_if_new(self, seq: int, chain_hash: str) -> Checkpoint | None:
        """A checkpoint of the head unless one at this seq (or later) is already kept."""
        if seq <= latest_seq(self.directory, self.service):
            return None
        return self.sign_and_write(seq, chain_hash)

    def read(self, extra_public_keys: Iterable[Path] = ()) -> list[Checkpoint]:
        keys = [load_public_key(p) for p in extra_public_keys]
        if self.key_file.exists():
            keys.append(load_public_key(self.key_file))
        return read_all(self.directory, self.service, keys)


def resolve_vault(service: str, database_url: str, key_file: str, directory: str) -> Vault:
    """The vault of the settings: given paths, else (development and tests) paths of the
    database's own: beside an SQLite file, or in the temporary directory for a server."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    sqlite_prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(sqlite_prefix) and ":memory:" not in database_url:
        base = Path(database_url[len(sqlite_prefix) :].split("?")[0] + ".audit")
    else:
        base = Path(tempfile.gettempdir()) / "tinpass-audit" / f"{service}-{digest}"
    return Vault(
        service,
        Path(key_file) if key_file else base / PRIVATE_KEY_FILE,
        Path(directory) if directory else base / CHECKPOINT_DIR,
        create_key=not key_file,
    )
