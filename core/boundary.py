"""The one input boundary: every request's path, query, form and JSON is checked before any view.

Refused here, whichever endpoint (core or plugin) the request is for:

- NUL characters (PostgreSQL cannot store them), lone surrogates and bytes that
  are not UTF-8, anywhere in the path (→ 404), the query string, a form or a
  JSON body (→ 400 ``validation_error``);
- JSON nested deeper than ``MAX_JSON_DEPTH`` (a 100,000-deep array would
  otherwise exhaust the parser's recursion);
- numbers written with digits other than ASCII 0-9 (``"１２３"``, ``"١٢"``):
  Python's ``int()`` and ``Decimal()`` accept them, people's systems do not.

Views and schemas can then assume clean text.
"""
from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

from flask import Flask, request

from core.errors import NotFound, ValidationFailed
from core.i18n import _

MAX_JSON_DEPTH = 32
_TEXT_BODIES = ("application/json", "application/x-www-form-urlencoded", "text/", "application/xml")
# A value that reads as a number (sign, digits, separators) ...
_NUMBER_LIKE = re.compile(r"\s*[+\-]?[\d.,\s]*\d[\d.,\s]*\s*")


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)


def check_request() -> None:
    """Refuse the request before routing reaches a view (a ``before_request`` hook that runs first)."""
    _check_path(request.environ.get("PATH_INFO", ""))
    problem = _query_problem(request.environ.get("QUERY_STRING", ""))
    if problem:
        raise ValidationFailed(_("The query string is not valid."), fields={"query": [problem]})
    problem = _body_problem()
    if problem:
        raise ValidationFailed(_("The request body is not valid."), fields={"body": [problem]})


def _check_path(raw_path: str) -> None:
    # PATH_INFO is the URL's bytes, percent-decoded, as latin-1 (PEP 3333).
    try:
        path = raw_path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise NotFound() from None
    if "\x00" in path or _has_foreign_digit_segment(path):
        raise NotFound()


def _has_foreign_digit_segment(path: str) -> bool:
    return any(_foreign_number(segment) for segment in path.split("/"))


def _foreign_number(value: str) -> bool:
    """A value that reads as a number but uses digits other than ASCII 0-9."""
    return (not value.isascii() and _NUMBER_LIKE.fullmatch(value) is not None
            and any(ch.isdigit() and not "0" <= ch <= "9" for ch in value))


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate"
    if _foreign_number(value):
        return "writes a number with digits other than 0-9"
    return None


def _query_problem(query: str) -> str | None:
    return _urlencoded_problem(query.encode("latin-1", "replace"))


def _urlencoded_problem(raw: bytes) -> str | None:
    for pair in raw.split(b"&"):
        for part in pair.split(b"=", 1):
            try:
                text = unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return "is not valid UTF-8"
            problem = _text_problem(text)
            if problem:
                return problem
    return None


def _body_problem() -> str | None:
    if request.method in ("GET", "HEAD", "OPTIONS") and not request.content_length:
        return None
    mimetype = request.mimetype or ""
    if mimetype.startswith("multipart/"):
        return _multipart_problem()
    if not (mimetype.endswith("json") or mimetype.startswith(_TEXT_BODIES)):
        return None
    raw = request.get_data(cache=True)  # the form parser and get_json read this cached copy
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "is not valid UTF-8"
    if mimetype == "application/x-www-form-urlencoded":
        return _urlencoded_problem(raw)
    if "\x00" in text:
        return "contains a NUL character"
    if mimetype.endswith("json") and text.strip():
        return _json_problem(text)
    return None


def _multipart_problem() -> str | None:
    for key, value in request.form.items(multi=True):
        problem = _text_problem(key) or _text_problem(value)
        if problem:
            return problem
    for key, upload in request.files.items(multi=True):
        problem = _text_problem(key) or (upload.filename and _text_problem(upload.filename))
        if problem:
            return problem
    return None


def _json_problem(text: str) -> str | None:
    try:
        document = json.loads(text)
    except RecursionError:
        return f"nests deeper than {MAX_JSON_DEPTH} levels"
    except ValueError:
        return None  # not JSON at all: the endpoint's own parsing answers 400 with its message
    # Walk without recursion: no document can make this check itself overflow.
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nests deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                return problem
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _text_problem(key)
                if problem:
                    return problem
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None
