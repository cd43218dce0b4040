"""Signed checkpoints of a chain's head: Ed25519 files outside the database."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy.checkpoints import (
    CheckpointError,
    Vault,
    latest_seq,
    load_private_key,
    read_all,
    resolve_vault,
)


def vault(tmp_path: Path) -> Vault:
    return Vault("identity", tmp_path / "key.pem", tmp_path / "checkpoints", create_key=True)


def test_a_signed_checkpoint_reads_back_with_the_public_key(tmp_path: Path) -> None:
    kept = vault(tmp_path)
    first = kept.sign_and_write(3, "a" * 64)
    assert kept.sign_if_new(3, "a" * 64) is None, "one checkpoint per seq"
    second = kept.sign_if_new(7, "b" * 64)
    assert second is not None and second.filename == "identity-000000000007.json"
    public = kept.private_key().public_key()
    assert read_all(kept.directory, "identity", [public]) == [first, second]
    assert latest_seq(kept.directory, "identity") == 7
    assert read_all(kept.directory, "provider-data", [public]) == []


def test_a_forged_checkpoint_is_refused(tmp_path: Path) -> None:
    kept = vault(tmp_path)
    path = kept.directory / kept.sign_and_write(3, "a" * 64).filename
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "hash": "f" * 64}))
    with pytest.raises(CheckpointError, match="bad signature"):
        kept.read()


def test_a_checkpoint_of_an_unknown_key_is_refused(tmp_path: Path) -> None:
    kept = vault(tmp_path)
    kept.sign_and_write(3, "a" * 64)
    stranger = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(CheckpointError, match="not a key given"):
        read_all(kept.directory, "identity", [stranger])


def test_a_retired_public_key_can_be_given(tmp_path: Path) -> None:
    old = vault(tmp_path)
    old.sign_and_write(3, "a" * 64)
    public_file = tmp_path / "old.pub.pem"
    public_file.write_bytes(
        old.private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    new = Vault("identity", tmp_path / "new.pem", old.directory, create_key=True)
    new.sign_and_write(5, "b" * 64)
    with pytest.raises(CheckpointError):
        new.read()
    assert [c.seq for c in new.read([public_file])] == [3, 5]


def test_a_development_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "dev" / "key.pem"
    keys: list[Ed25519PrivateKey] = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_private_key(path, create=True)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    raw = {
        k.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        for k in keys
    }
    assert len(keys) == 8 and len(raw) == 1, "racing processes share one key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileNotFoundError):
        load_private_key(tmp_path / "missing.pem", create=False)


def test_configured_paths_win_and_development_paths_follow_the_database(tmp_path: Path) -> None:
    given = resolve_vault("identity", "sqlite+aiosqlite:///x.db", "/k/key.pem", "/c")
    assert (given.key_file, given.directory, given.create_key) == (
        Path("/k/key.pem"),
        Path("/c"),
        False,
    )
    beside = resolve_vault("identity", f"sqlite+aiosqlite:///{tmp_path}/id.db", "", "")
    assert beside.key_file == tmp_path / "id.db.audit" / "signing-key.pem" and beside.create_key
    one = resolve_vault("identity", "postgresql+asyncpg://h/one", "", "")
    two = resolve_vault("identity", "postgresql+asyncpg://h/two", "", "")
    assert one.directory != two.directory
