"""The REST API: flask-smorest wired to our error body, and the health check."""
from __future__ import annotations

import marshmallow as ma
from flask import jsonify
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint
from sqlalchemy import text
from werkzeug.routing import IntegerConverter

from core.errors import http_error_response, retry_after
from core.schemas import MAX_INT, ErrorSchema, shared


class Api(SmorestApi):
    """flask-smorest, answering errors with API.md's ``{"error": ...}`` body."""

    ERROR_SCHEMA = ErrorSchema  # the document shows the body the API really sends

    def handle_http_exception(self, error):
        return http_error_response(error)


class BoundedIntConverter(IntegerConverter):
    """``<int:id>`` that never matches a number the database cannot hold (→ 404, not 500).

    Only ASCII digits: ``\\d`` would also match ``١`` or ``１``, which ``int()`` accepts.
    """

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


api = Api()

class ArgumentsParser(type(Blueprint.ARGUMENTS_PARSER)):
    """flask-smorest's parser, with one instance of each arguments schema class, made when first
    used: webargs makes a new one for every request, copying every declared field (half a
    millisecond on a list with filters). A marshmallow schema keeps nothing of a load on itself.

    Unknown query parameters: webargs drops them before our schemas see them; here each schema
    decides instead (``PageArgs`` refuses them: a misspelt filter must not silently list everyone).
    """

    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return shared(argmap)
        return super()._get_schema(argmap, req)


# Every flask-smorest Blueprint shares one parser instance, and views decorated before this module
# was imported hold it already: it is given the subclass's behaviour in place, not replaced.
_parser = Blueprint.ARGUMENTS_PARSER
_parser.__class__ = ArgumentsParser
_parser.unknown = None

health = Blueprint("health", __name__, description="Liveness of the database and Redis.")


@health.route("/healthz")
@health.response(200)
def healthz():
    """200 when the database (and Redis, where configured) answer."""
    from flask import current_app

    from core.extensions import db
    from core.jobs import redis_connection

    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, do not raise: this is the health check
        checks["database"] = f"error: {exc.__class__.__name__}"
    if current_app.config.get("REDIS_URL"):
        try:
            redis_connection().ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
    ok = all(value == "ok" for value in checks.values())
    response = jsonify({"status": "ok" if ok else "error", "checks": checks})
    response.status_code = 200 if ok else 503
    return response if ok else retry_after(response)
