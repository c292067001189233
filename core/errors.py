"""Errors the API reports, and the handlers that turn them into API.md's error body.

Every error reaches the client as ``{"error": {"code", "message"[, "fields"]}}``.
Business rules raise a subclass of ``AppError``; views never build error bodies.
The ``code`` is fixed; the ``message`` is written in English in the code, marked
for the catalogs (``N_`` for a class's default, ``_``/``lazy_`` at a ``raise``),
and answered in the request's language.
"""
from __future__ import annotations

import logging
import traceback

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from core.i18n import N_

log = logging.getLogger(__name__)


class AppError(Exception):
    """An error with an HTTP status and a machine-readable code."""

    status = 400
    code = "bad_request"
    message = N_("The request cannot be processed.")

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 status: int | None = None, fields: dict | None = None, extra: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.fields = fields
        self.extra = extra or {}

    def translated(self) -> str:
        """The message in the language of the request (or of ``in_language``)."""
        from flask import current_app, has_app_context

        from core.i18n import translate_stored

        text = str(self.message)
        if has_app_context() and "babel" in current_app.extensions:
            return translate_stored(text)
        return text

    def _translated_fields(self):
        from flask import current_app, has_app_context

        if not (has_app_context() and "babel" in current_app.extensions):
            return self.fields
        from core.validation_messages import translated_fields

        return translated_fields(self.fields)

    def body(self) -> dict:
        error = {"code": self.code, "message": self.translated()}
        if self.fields is not None:
            error["fields"] = self._translated_fields()
        error.update(self.extra)
        return {"error": error}


class ValidationFailed(AppError):
    status = 400
    code = "validation_error"
    message = N_("The request is not valid.")


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    message = N_("A valid bearer token is required.")


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message = N_("This token may not do that.")


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = N_("Not found.")


class Conflict(AppError):
    """A business rule refused the request; ``code`` names the rule."""

    status = 409
    code = "conflict"


# What a member reads for an HTTP error that no rule of ours raised (an unknown URL, a wrong method).
_HTTP_MESSAGES = {
    400: N_("The request is not valid."),
    401: N_("A valid bearer token is required."),
    403: N_("This token may not do that."),
    404: N_("Not found."),
    405: N_("This method is not allowed here."),
    406: N_("We cannot answer in a format this client accepts."),
    409: N_("The request conflicts with the current state."),
    413: N_("The request is too large."),
    415: N_("This content type is not supported."),
    429: N_("Too many requests: please wait a moment and try again."),
}

_HTTP_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


#: Every error code the core answers, with its HTTP status: a closed set. A plugin's own
#: codes are declared where it uses them (``@errors(..., daily_limit_reached=409)``).
ERROR_CODES: dict[str, int] = {
    # the request itself
    "validation_error": 400, "csrf_failed": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
    "method_not_allowed": 405, "not_acceptable": 406, "payload_too_large": 413, "unsupported_media_type": 415,
    "rate_limited": 429, "internal_error": 500, "unavailable": 503, "http_error": 400,
    # business rules
    "member_exists": 409, "operator_exists": 409, "order_member_mismatch": 409, "already_refunded": 409,
    "insufficient_points": 409, "already_redeemed": 409, "expired": 409, "void": 409, "wrong_channel": 409,
    "idempotency_key_reused": 409, "plugin_unusable": 409, "dependency_disabled": 409, "required_by": 409,
    "keyword_taken": 409,
}

#: Codes any endpoint may answer: about the request, not the endpoint's rules (a plugin that is off answers 404).
ANY_ENDPOINT = frozenset({"validation_error", "unauthorized", "not_found", "method_not_allowed", "not_acceptable",
                          "payload_too_large", "unsupported_media_type", "rate_limited", "internal_error",
                          "unavailable", "http_error"})


def errors(*codes: str, **own_codes: int):
    """Declare the error codes an endpoint answers besides ``ANY_ENDPOINT``'s: a closed set.

    Put it right under ``@blp.route``. Each code is documented in the OpenAPI document as
    a response of its status; a plugin gives its own codes with their status
    (``@errors("not_found", daily_limit_reached=409)``). With ``CHECK_ERROR_CODES`` on (the
    test settings), answering a code the endpoint did not declare is a bug: it answers 500.
    """
    import http
    from copy import deepcopy
    from functools import wraps

    declared = dict(own_codes)
    for code in codes:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}: add it to core.errors.ERROR_CODES or give its status")
        declared[code] = ERROR_CODES[code]

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)

        from core.schemas import ErrorSchema

        wrapper._apidoc = deepcopy(getattr(func, "_apidoc", {}))
        responses = wrapper._apidoc.setdefault("response", {}).setdefault("responses", {})
        for status in sorted(set(declared.values())):
            names = sorted(code for code, code_status in declared.items() if code_status == status)
            description = f"{http.HTTPStatus(status).phrase}: " + ", ".join(f"`{name}`" for name in names)
            documented = responses.setdefault(status, [])
            # The endpoint documents a body of its own for this status (``alt_response``): OpenAPI has one
            # response per status and content type, so the two become one, either body.
            own = next((i for i, doc in enumerate(documented) if isinstance(doc, dict) and doc.get("schema")
                        and doc.get("content_type") is None), None)
            if own is not None:
                other = documented[own]
                documented[own] = dict(other, schema={"oneOf": [other["schema"], ErrorSchema]},
                                       description=f"{other.get('description', '')} Or the error body: "
                                                   f"{description}".strip())
                continue
            documented.append({"schema": ErrorSchema, "content_type": None, "description": description})
        wrapper.error_codes = frozenset(declared) | ANY_ENDPOINT
        return wrapper

    return decorator


def _undeclared(error: "AppError") -> bool:
    from flask import current_app

    if not current_app.config.get("CHECK_ERROR_CODES") or request.endpoint is None:
        return False
    declared = getattr(current_app.view_functions.get(request.endpoint), "error_codes", None)
    return declared is not None and error.code not in declared


def _wants_page() -> bool:
    """Pages (share links, the member page) get an HTML error; the API gets JSON."""
    path = request.path
    if path.startswith(("/api/", "/healthz", "/wechat")):
        return False
    return request.accept_mimetypes.accept_html


def error_response(error: AppError):
    if _undeclared(error):
        log.error("%s %s answered %s, which the endpoint does not declare", request.method, request.path,
                  error.code)
        error = AppError(f"Undeclared error code {error.code!r}: declare it with @errors.", code="internal_error",
                         status=500)
    if _wants_page():
        from flask import render_template

        try:
            template = "console/error.html" if request.path.startswith("/console") else "error.html"
            html = render_template(template, error=error)
            return html, error.status, {"Content-Type": "text/html; charset=utf-8"}
        except Exception:  # a broken template must not turn a 404 into a 500
            log.exception("error page failed to render")
    response = jsonify(error.body())
    response.status_code = error.status
    return response


def http_error_response(error: HTTPException):
    """Map Werkzeug/webargs HTTP errors onto the error body; 422 becomes 400."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    fields = data.get("errors") or data.get("messages")
    if status == 422:
        status = 400
    if status >= 500:
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
        app_error = AppError(N_("Something went wrong on our side."), code="internal_error", status=status)
        return error_response(app_error)
    code = _HTTP_CODES.get(status, "http_error")
    message = data.get("message") or _HTTP_MESSAGES.get(status) or error.description or error.name
    if fields is not None:
        fields = _flatten_locations(fields)
        message = N_("The request is not valid.")
        code = "validation_error"
    app_error = AppError(message, code=code, status=status, fields=fields)
    response = error_response(app_error)
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _flatten_locations(messages: dict) -> dict:
    """webargs nests messages by location (``{"json": {...}}``); clients want the fields."""
    flat: dict = {}
    for location in ("json", "query", "form", "headers", "path", "files"):
        part = messages.get(location)
        if isinstance(part, dict):
            flat.update(part)
        elif part is not None:
            flat.setdefault("_schema", []).extend(part if isinstance(part, list) else [part])
    for key, value in messages.items():
        if key not in ("json", "query", "form", "headers", "path", "files"):
            flat[key] = value
    return flat


class Unavailable(AppError):
    status = 503
    code = "unavailable"
    message = N_("We are busy right now: please try again in a moment.")


def retry_after(response):
    """Tell the client when to come back (503s)."""
    from flask import current_app, make_response

    response = make_response(response)
    response.headers["Retry-After"] = str(current_app.config.get("RETRY_AFTER_SECONDS", 2))
    return response


def database_unavailable(error):
    """No connection to be had in time (pool exhausted, server full or failing over): 503, not 500."""
    log.warning("database unavailable on %s %s: %s", request.method, request.path,
                str(error).splitlines()[0][:200] if str(error) else error.__class__.__name__)
    return retry_after(error_response(Unavailable()))


def register_error_handlers(app) -> None:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    app.register_error_handler(AppError, error_response)
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(PoolTimeout, database_unavailable)
    app.register_error_handler(OperationalError, database_unavailable)

    @app.errorhandler(Exception)
    def unexpected(error):  # a bug: log it, answer with the error body, never a stack trace
        log_unexpected(error)
        return error_response(AppError(N_("Something went wrong on our side."), code="internal_error", status=500))


def log_unexpected(error: BaseException) -> None:
    """Log a bug with its traceback -- but a database error without the database's message.

    The engine already hides bound parameters; PostgreSQL's own message still quotes
    values ("Key (phone)=(+886...) already exists", "value \"...\" is out of range"), so a
    database error is logged as its class, SQLSTATE and statement only.
    """
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):
        original = error.orig
        summary = (f"{type(original).__name__} (SQLSTATE {getattr(original, 'sqlstate', None) or '?'}) "
                   f"in: {error.statement}")
        trace = "".join(traceback.format_tb(error.__traceback__))
        log.error("unhandled database error on %s %s: %s\nTraceback (most recent call last):\n%s",
                  request.method, request.path, summary, trace)
        return
    log.exception("unhandled exception on %s %s", request.method, request.path)
