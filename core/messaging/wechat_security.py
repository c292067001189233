"""The WeChat official-account callback: who may post to it, and the safe mode's encryption.

WeChat signs each call with the token set in its console: SHA-1 over the token,
the timestamp and a nonce. That signature covers neither the body nor the time,
so on top of it a call is refused (403) when

- its timestamp is more than ``WECHAT_MAX_CLOCK_SKEW`` (300 s) away from ours, or
- its nonce was seen in the last ``WECHAT_NONCE_TTL`` (600 s): a replayed call.

Nonces are remembered in Redis (``SET NX EX``) when ``REDIS_URL`` is set, so every
web process shares them; in the embedded default -- one process -- in memory.

With ``WECHAT_ENCODING_AES_KEY`` and ``WECHAT_APP_ID`` set, the account runs in
safe mode: messages arrive AES-encrypted under ``msg_signature``, which also
covers the ciphertext, and replies go back encrypted. wechatpy's ``WeChatCrypto``
does the cryptography; a plain-text message is then refused.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
import threading
import time

from flask import current_app, request
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from core.errors import Forbidden
from core.i18n import _


_seen_lock = threading.Lock()
_seen: dict[str, float] = {}


def signature(token: str, *parts: str) -> str:
    return hashlib.sha1("".join(sorted([token, *parts])).encode("utf-8")).hexdigest()


def verify_call(now: float | None = None) -> None:
    """Refuse (403) a call that is not signed with our token, not fresh, or already seen."""
    config = current_app.config
    timestamp, nonce = request.args.get("timestamp", ""), request.args.get("nonce", "")
    expected = signature(config["WECHAT_TOKEN"], timestamp, nonce)
    if not hmac.compare_digest(expected, request.args.get("signature", "")):
        raise Forbidden(_("The WeChat signature does not match."))
    now = time.time() if now is None else now
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(now - int(timestamp)) > config["WECHAT_MAX_CLOCK_SKEW"]:
        raise Forbidden(_("The WeChat call is too old or from the future."))
    if not nonce or len(nonce) > 64 or not _first_sighting(nonce, now):
        raise Forbidden(_("The WeChat call was already received."))


def _first_sighting(nonce: str, now: float) -> bool:
    ttl = int(current_app.config["WECHAT_NONCE_TTL"])
    if current_app.config.get("REDIS_URL"):
        from core.jobs import redis_connection

        return bool(redis_connection().set(f"memberday:wechat-nonce:{nonce}", 1, nx=True, ex=ttl))
    with _seen_lock:
        for old in [key for key, seen_at in _seen.items() if seen_at <= now - ttl]:
            del _seen[old]
        if nonce in _seen:
            return False
        _seen[nonce] = now
        return True


def safe_mode() -> WeChatCrypto | None:
    config = current_app.config
    if not config.get("WECHAT_ENCODING_AES_KEY"):
        return None
    return WeChatCrypto(config["WECHAT_TOKEN"], config["WECHAT_ENCODING_AES_KEY"], config["WECHAT_APP_ID"])


def decrypt(crypto: WeChatCrypto, encrypted: str) -> str:
    """The plain XML of a safe-mode message (its ``Encrypt`` field), or 403."""
    if request.args.get("encrypt_type") != "aes":
        raise Forbidden(_("This account runs in safe mode: messages must be encrypted."))
    try:
        return crypto.decrypt_message({"Encrypt": encrypted}, request.args.get("msg_signature", ""),
                                      request.args.get("timestamp", ""), request.args.get("nonce", ""))
    except (InvalidSignatureException, InvalidAppIdException, ValueError, TypeError, IndexError, struct.error):
        raise Forbidden(_("The encrypted WeChat message does not verify.")) from None


def encrypt(crypto: WeChatCrypto, xml: str) -> str:
    return crypto.encrypt_message(xml, request.args.get("nonce", ""), str(int(time.time())))
