"""Hand-built tokens for attacks PyJWT refuses to produce (alg none, HS256 keyed with a public PEM, tampering)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return f"{segment(header)}.{segment(payload)}.{b64url(signature)}"


def hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """HS256 over header and payload with `secret`, e.g. the verifier's public PEM (the classic confusion)."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(digest)}"


def with_payload(token: str, payload: dict[str, Any]) -> str:
    """`token`'s header and signature around a different payload."""
    header, _, signature = token.split(".")
    return f"{header}.{segment(payload)}.{signature}"


@functools.cache
def private_key(private_key_pem: str) -> rsa.RSAPrivateKey:
    """The loaded key, once: loading (and validating) an RSA key from PEM takes ~40 ms, signing under 1 ms."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def sign_raw(private_key_pem: str, kid: str, payload: Any) -> str:
    """RS256 over any JSON (PyJWT's encoder refuses some claim shapes a verifier must still survive)."""
    body = json.dumps(payload).encode()
    return jwt.api_jws.encode(body, private_key(private_key_pem), algorithm="RS256", headers={"kid": kid, "typ": "JWT"})
