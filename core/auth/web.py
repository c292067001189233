"""What protects the browser-facing side: CSRF on every form, no caching of private answers.

Every state-changing request outside the bearer-token JSON API (``/api/``) and
the WeChat callback must carry the form's CSRF token (Flask-WTF). Responses that
depend on who is asking -- anything that read the session cookie or a bearer
token, and every write -- are sent with ``Cache-Control: no-store``.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from core.errors import AppError, error_response
from core.i18n import N_

csrf = CSRFProtect()

# Bearer-token JSON API and the WeChat callback: no cookie authenticates there, so no CSRF.
CSRF_EXEMPT_PREFIXES = ("/api/", "/wechat")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask) -> None:
    # Checked by our own hook below, by path, so a plugin's forms are covered without registering.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session is
    csrf.init_app(app)
    if app.config.get("SESSION_LIFETIME_DAYS"):
        app.permanent_session_lifetime = timedelta(days=float(app.config["SESSION_LIFETIME_DAYS"]))

    @app.before_request
    def _forms_carry_their_csrf_token():
        if request.method in _UNSAFE and not request.path.startswith(CSRF_EXEMPT_PREFIXES):
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_refused(error: CSRFError):
        return error_response(AppError(
            N_("This form has expired or did not come from our page; reload it and try again."),
            code="csrf_failed", status=400))

    app.session_interface = PrivateSessionInterface()


class PrivateSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, plus ``no-store`` on every answer that is not the same for everyone.

    Here, where Flask adds ``Vary: Cookie``, the session tells whether the view
    read it (a signed-in page, a form with its CSRF token) without the proxy
    marking it read.
    """

    def save_session(self, app, session, response) -> None:
        super().save_session(app, session, response)
        private = (session.accessed or request.method not in ("GET", "HEAD")
                   or "Authorization" in request.headers)
        if private and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
