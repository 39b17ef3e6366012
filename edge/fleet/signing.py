"""ed25519 signatures of a package's ``manifest.json`` (the ``cryptography`` package, extra
[signing]). The manifest hashes every file, so signing its bytes covers the whole package.

Keys are PEM files: the private key in PKCS#8 (unencrypted; keep it on the workstation that
packages), the public key in SubjectPublicKeyInfo; ``openssl pkey`` reads both. The
signature is the raw 64 bytes (``openssl pkeyutl -verify -rawin`` checks it too).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edge.extras import install_command


class SignatureError(ValueError):
    """The signature is missing, malformed, or not made by the configured key."""


def _crypto() -> Any:
    """cryptography's ed25519 module; RuntimeError naming the extra when it is missing."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as e:
        raise RuntimeError(f"package signatures need cryptography: {install_command('signing')}") from e
    return ed25519


def check_available() -> None:
    """RuntimeError with the install line when signatures cannot be made or checked here."""
    _crypto()


def public_key_path(private_key: Path) -> Path:
    """Where ``generate_keypair`` writes the public half: ``key.pem`` -> ``key.pub.pem``."""
    p = Path(private_key)
    return p.with_name(p.name.removesuffix(".pem") + ".pub.pem")


def generate_keypair(private_key: Path, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new ed25519 private key (mode 0600) and its public key; returns both paths."""
    ed25519 = _crypto()
    from cryptography.hazmat.primitives import serialization

    private_key = Path(private_key)
    public = public_key_path(private_key)
    if not overwrite:
        for p in (private_key, public):
            if p.exists():
                raise FileExistsError(f"{p} exists; refusing to overwrite a key (delete it first)")
    if not private_key.parent.is_dir():
        raise FileNotFoundError(f"folder {private_key.parent} does not exist")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_key, public


def _load_key(path: Path, private: bool) -> Any:
    ed25519 = _crypto()
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{'private' if private else 'public'} key not found: {path}")
    data = path.read_bytes()
    try:
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (ValueError, TypeError) as e:
        kind = "private key (PKCS#8 PEM, unencrypted)" if private else "public key (PEM)"
        raise ValueError(f"{path}: not an ed25519 {kind}: {e}") from e
    want = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
    if not isinstance(key, want):
        raise ValueError(f"{path}: a {type(key).__name__}, expected an ed25519 key "
                         "(make one with `edge model keygen`)")
    return key


def sign(data: bytes, private_key: Path) -> bytes:
    """The 64-byte ed25519 signature of ``data``."""
    return _load_key(private_key, private=True).sign(data)


def verify(data: bytes, signature: bytes | None, public_key: Path) -> None:
    """SignatureError unless ``signature`` is the ed25519 signature of ``data`` by the
    private half of ``public_key``."""
    key = _load_key(public_key, private=False)
    from cryptography.exceptions import InvalidSignature

    if signature is None:
        raise SignatureError(f"package is unsigned, but a public key is configured ({public_key})")
    if len(signature) != 64:
        raise SignatureError(f"manifest.sig is {len(signature)} bytes, expected a 64-byte "
                             "ed25519 signature")
    try:
        key.verify(signature, data)
    except InvalidSignature as e:
        raise SignatureError(f"signature does not verify with {Path(public_key).name}: signed "
                             "by another key, or the manifest was altered") from e
