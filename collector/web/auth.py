"""Basic auth against bcrypt hashes, as exporter-toolkit's `basic_auth_users` does.

A bcrypt check costs ~0.1-0.3 s of CPU by design, and Prometheus sends the same credentials every
scrape: a verified (user, password) pair is remembered as a salted SHA-256 digest (never the
password itself), in a small LRU, so a scrape pays for bcrypt once. Wrong passwords are never
cached, and an unknown user is checked against a dummy hash so both take the same time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping

import bcrypt

CACHE_SIZE = 100
# the hash of a random password, so that an unknown user costs one bcrypt check like a known one
_DUMMY_HASH = b"$2b$10$4ZbMHqg2Gnh7fL3Wc7xyVOv5wsuVrz8Q/9ZcF6GkFNjt9RFQ9QXzW"


def parse_basic(header: str) -> tuple[str, str] | None:
    """`Basic dXNlcjpwdw==` -> ("user", "pw"); None when the header is not basic credentials."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class BasicAuth:
    """Users and their bcrypt hashes; `check` is thread-safe (it runs in the threadpool)."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = {user: hashed.encode() for user, hashed in users.items()}
        self._salt = os.urandom(16)
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, user: str, password: str) -> bool:
        digest = hashlib.sha256(self._salt + f"{user}:{password}".encode()).digest()
        with self._lock:
            if digest in self._verified:
                self._verified.move_to_end(digest)
                return True
        hashed = self.users.get(user)
        ok = bcrypt.checkpw(password.encode(), hashed or _DUMMY_HASH) and hashed is not None
        if ok:
            with self._lock:
                self._verified[digest] = None
                while len(self._verified) > CACHE_SIZE:
                    self._verified.popitem(last=False)
        return ok


def bearer_matches(header: str, token: str) -> bool:
    """Constant-time comparison of an Authorization header with `Bearer <token>`."""
    return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
