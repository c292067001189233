"""Named rate limits (Flask-Limiter): share links, QR images, joins, sign-in, one-time codes,
messages and token-authenticated writes.

Each limit has a name and a default in ``DEFAULT_LIMITS``; ``RATE_LIMITS`` (the
``MEMBERDAY_RATE_LIMITS`` JSON object) overrides any of them by name, in
Flask-Limiter's notation (``"30/minute;300/hour"``), and ``RATE_LIMITS_ENABLED``
(``MEMBERDAY_RATE_LIMITS_ENABLED=0``) switches them all off. Counters live in
Redis when ``REDIS_URL`` is set (shared by every web process), in memory otherwise.

Calls are counted per signed-in member or operator when a bearer token
authenticates them, else per client address -- an unknown token is no way
around the limit. Apply a limit to a view with ``@limit("sign_in")``; an
exceeded one answers ``429 rate_limited`` with ``Retry-After``.
"""
from __future__ import annotations

import functools
import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from core.errors import AppError, error_response
from core.i18n import ngettext

DEFAULT_LIMITS = {
    "share_link": "30/minute;300/hour",   # a share link's landing page, per visitor
    "qr": "60/minute",                     # QR images
    "join": "10/minute;100/day",           # joining, by API or a page's form
    "sign_in": "10/minute;50/hour",        # sign-in attempts
    "one_time_code": "3/minute;10/hour",   # one-time codes sent to a phone
    "messages": "120/minute",              # inbound messages (API and WeChat callback)
    "api_write": "300/minute",             # every token-authenticated write, together
}
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def client_key() -> str:
    """Who is counted: the authenticated member or operator, else the client address."""
    from core.auth.services import current_principal

    principal = current_principal() if request.headers.get("Authorization") else None
    if principal is not None:
        return f"principal:{principal.key}"
    return f"addr:{request.remote_addr or 'unknown'}"


def limit_for(name: str) -> str:
    """The limit string in force for ``name`` (settings override the default)."""
    overrides = current_app.config.get("RATE_LIMITS") or {}
    return overrides.get(name) or DEFAULT_LIMITS[name]


def _disabled() -> bool:
    return not current_app.config.get("RATE_LIMITS_ENABLED", True)


def _not_a_token_write() -> bool:
    if request.method not in _WRITES or not request.path.startswith("/api/"):
        return True
    from core.auth.services import current_principal

    return current_principal() is None


limiter = Limiter(
    client_key,
    application_limits=[lambda: limit_for("api_write")],
    application_limits_exempt_when=_not_a_token_write,
    strategy="moving-window",
)


@limiter.request_filter
def _switched_off() -> bool:
    # The one switch: asked first for every limit of every request, so with the limits off none is
    # weighed (the limiter is shared by every app in the process, so its own on/off setting
    # cannot serve one app's). ``limit`` below also skips its wrapper then, to save the work.
    return _disabled()


def limit(name: str, *, methods: list[str] | None = None):
    """A view decorator: count calls under the named limit (only ``methods``, when given)."""
    if name not in DEFAULT_LIMITS:
        raise ValueError(f"unknown rate limit {name!r}; known: {', '.join(DEFAULT_LIMITS)}")
    # Shared: joining through the API and through a page's form spend one budget.
    shared = limiter.shared_limit(lambda: limit_for(name), scope=name, methods=methods, error_message=name)

    def decorate(view):
        limited = shared(view)

        # Looks to the limiter like its own wrapper (same name, same marks), so the limit is
        # counted once, here; with the limits switched off the view runs without it.
        @functools.wraps(limited)
        def either(*args, **kwargs):
            return view(*args, **kwargs) if _disabled() else limited(*args, **kwargs)

        return either

    return decorate


def init_app(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        # The client address is the one the trusted proxies saw, not theirs.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "memberday")
    unknown = set(app.config.get("RATE_LIMITS") or {}) - set(DEFAULT_LIMITS)
    if unknown:
        from config import SettingsError

        raise SettingsError(f"RATE_LIMITS names unknown limits: {', '.join(sorted(unknown))}")
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(error: RateLimitExceeded):
        retry_after = _retry_after()
        response = error_response(AppError(
            ngettext("Too many requests; try again in %(num)s second.",
                     "Too many requests; try again in %(num)s seconds.", retry_after), code="rate_limited", status=429,
            extra={"limit": error.description, "retry_after": retry_after}))
        response.headers["Retry-After"] = str(retry_after)
        return response


def _retry_after() -> int:
    """Seconds until the breached limit lets a call through again."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, math.ceil(breached.reset_at - time.time()))


def check(name: str, key: str) -> None:
    """Count one call under the named limit for ``key`` (say ``phone:+886…``); 429 when it is spent.

    For limits on something other than the caller, such as codes sent to one phone
    from any number of clients.
    """
    if _disabled():
        return
    from limits import parse_many

    for item in parse_many(limit_for(name)):
        if not limiter.limiter.hit(item, name, key):
            reset_at = limiter.limiter.get_window_stats(item, name, key).reset_time
            retry_after = max(1, math.ceil(reset_at - time.time()))
            from core.i18n import _

            raise AppError(_("Too many requests; try again in %(seconds)s seconds.", seconds=retry_after),
                           code="rate_limited", status=429, extra={"limit": name, "retry_after": retry_after})
