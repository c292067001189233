"""Schema building blocks every domain's ``schemas.py`` uses."""
from __future__ import annotations

import base64
import json
from datetime import datetime

import sqlalchemy as sa
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

MAX_INT = 2**31 - 1
MAX_POINTS = 1_000_000_000


def _reject_nul(value, path="body"):
    # PostgreSQL cannot store NUL characters in text; refuse them at the door.
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError(f"{path} contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, path)
            _reject_nul(item, f"{key}")
    elif isinstance(value, list):
        for item in value:
            _reject_nul(item, path)


class BaseSchema(Schema):
    """Unknown fields are ignored; NUL characters anywhere are a validation error."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _no_nul(self, data, **kwargs):
        _reject_nul(data)
        return data


def Text(*, max_length: int = 200, required: bool = False, allow_empty: bool = False, **kwargs):
    """A trimmed string field with a length limit (empty strings refused unless allowed)."""
    min_length = 0 if allow_empty else 1
    return TrimmedString(required=required, validate=validate.Length(min=min_length, max=max_length), **kwargs)


class TrimmedString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        return result.strip()


def Id(**kwargs):
    """A database id: a positive 32-bit integer."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_INT), **kwargs)


def Points(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=-MAX_POINTS, max=MAX_POINTS), **kwargs)


def OneOf(closed_set, **kwargs):
    """A string field that takes (and documents, as an OpenAPI enum) one value of a ``ClosedSet``."""
    return fields.String(validate=validate.OneOf(closed_set.values()), **kwargs)


class PageArgs(BaseSchema):
    """Paging every list takes: ``after`` (a cursor, any depth) or ``page`` (shallow pages only).

    Lists are read by people and programs alike; a misspelt parameter that is silently
    dropped returns the wrong members, so an unknown query parameter is refused.
    """

    class Meta:
        unknown = RAISE

    after = fields.String(validate=validate.Length(min=1, max=200),
                          metadata={"description": "the `next` cursor of the previous page"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    count = fields.String(validate=validate.OneOf(["exact"]),
                          metadata={"description": "`exact` adds `total`, the number of rows in every page"})

    @validates_schema
    def _one_way_of_paging(self, data, **kwargs):
        if data.get("after") and data.get("page", 1) != 1:
            raise ValidationError("page with after=, or page=, not both", "page")
        if (data.get("page", 1) - 1) * data.get("per_page", 50) >= MAX_OFFSET:
            raise ValidationError(f"page= reaches the first {MAX_OFFSET} rows; go deeper with after=", "page")


class PageSchema(BaseSchema):
    """The list envelope around ``items``: what ``page_of`` answers besides the rows."""

    next = fields.String(allow_none=True, metadata={"description": "pass as after= for the next page; null at the end"})
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer(metadata={"description": "with count=exact: the number of rows in every page"})
    estimate = fields.Integer(allow_none=True, metadata={"description": "the database's estimate of that number"})


class CommaSeparated(fields.Field):
    """``a,b,c`` in a query string: a list of trimmed, non-empty items, each checked by ``item``."""

    def __init__(self, item: fields.Field | None = None, *, max_items: int = 50, **kwargs):
        super().__init__(**kwargs)
        self.item = item or Text(max_length=40)
        self.max_items = max_items

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("a comma-separated list")
        parts = value.split(",")
        if len(parts) > self.max_items:
            raise ValidationError(f"at most {self.max_items} items")
        return [self.item.deserialize(part.strip()) for part in parts]


class ErrorBody(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields = fields.Dict()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


MAX_OFFSET = 10_000  # page= is for shallow pages; OFFSET reads and throws away every row before


_shared: dict[type, Schema] = {}


def shared(schema_class: type[Schema]) -> Schema:
    """One instance of ``schema_class`` for every request: making one copies every declared field
    (a few tenths of a millisecond), and a schema keeps nothing of a dump or a load on itself."""
    schema = _shared.get(schema_class)
    if schema is None:
        schema = _shared[schema_class] = schema_class()
    return schema


def page_of(query, args: dict, dump=None, *, key=None, descending: bool = True) -> dict:
    """One page of a list, in the envelope API.md describes: ``items``, ``next`` and more.

    The list is ordered by ``key`` (default: the selected model's primary key), newest first
    unless ``descending`` is False; ``query``'s own ORDER BY is replaced. ``after=`` continues
    from a cursor with ``WHERE key < cursor`` (keyset paging: one index range at any depth, and
    stable while rows are added); ``page=`` is an OFFSET for the first pages. ``key`` must be
    unique, and served by an index that starts with the list's filter columns. A COUNT is run
    only for ``count=exact``; otherwise PostgreSQL's planner gives an ``estimate``. A first page
    that is not full needs neither: its length is the exact figure, given as either.
    ``dump`` serialises each row; leave it out when the view's response schema does.
    """
    from core.extensions import db

    key = tuple(key) if key is not None else tuple(query.column_descriptions[0]["entity"].__mapper__.primary_key)
    per_page = args.get("per_page", 50)
    ordered = query.order_by(None).order_by(*(column.desc() if descending else column.asc() for column in key))
    result = {"per_page": per_page}
    if args.get("after"):
        values = decode_cursor(args["after"], key)
        columns, after = sa.tuple_(*key), sa.tuple_(*(sa.literal(v, c.type) for v, c in zip(values, key)))
        paged = ordered.where(columns < after if descending else columns > after)
        first_page = False
    else:
        result["page"] = page = args.get("page", 1)
        paged = ordered.offset((page - 1) * per_page)
        first_page = page == 1
    rows = db.session.scalars(paged.limit(per_page + 1)).all()
    more, rows = len(rows) > per_page, rows[:per_page]
    # A first page that is not full holds every row: its length is the count, exactly, and
    # neither a COUNT nor the planner's estimate costs another statement.
    whole = len(rows) if first_page and not more else None
    if args.get("count") == "exact":
        # Count over the query as a subquery: swapping its columns for count() would drop its FROM
        # when it has no WHERE clause, and every unfiltered list would report a total of 1.
        result["total"] = whole if whole is not None else db.session.scalar(
            db.select(db.func.count()).select_from(query.order_by(None).subquery()))
    elif whole is not None and db.engine.dialect.name == "postgresql":
        result["estimate"] = whole
    else:
        result["estimate"] = estimated_rows(query)
    result["next"] = encode_cursor([getattr(rows[-1], column.key) for column in key]) if more else None
    result["items"] = [dump(row) for row in rows] if dump else rows
    return result


def encode_cursor(values: list) -> str:
    plain = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, key: tuple) -> list:
    """The key values a cursor carries, each checked against its column's type."""
    from core.errors import ValidationFailed

    def bad():
        return ValidationFailed("after= is not a cursor this list gave", fields={"after": ["not a cursor"]})

    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise bad() from None
    if not isinstance(values, list) or len(values) != len(key):
        raise bad()
    decoded = []
    for value, column in zip(values, key):
        python_type = column.type.python_type
        if python_type is int and type(value) is int and abs(value) <= 2**63 - 1:
            decoded.append(value)
        elif python_type is str and isinstance(value, str):
            decoded.append(value)
        elif python_type is datetime and isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise bad() from None
            if moment.tzinfo is None:
                raise bad()
            decoded.append(moment)
        else:
            raise bad()
    return decoded


def estimated_rows(query) -> int | None:
    """PostgreSQL's planner estimate of how many rows ``query`` gives (None on SQLite).

    Planning costs a fraction of a millisecond where a COUNT reads every matching row.
    """
    from core.extensions import db

    if db.engine.dialect.name != "postgresql":
        return None
    plan = db.session.execute(Explain(query.order_by(None), json=True)).scalar()
    return int(plan[0]["Plan"]["Plan Rows"])


class Explain(Executable, ClauseElement):
    """``EXPLAIN`` a select with its parameters bound as the app binds them (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, statement, *, json: bool = False):
        self.statement = statement
        self.json = json


@compiles(Explain)
def _explain(element, compiler, **kw):
    return ("EXPLAIN (FORMAT JSON) " if element.json else "EXPLAIN ") + compiler.process(element.statement, **kw)


class When(fields.DateTime):
    """A timestamp: read as ISO 8601 with an offset, shown in the brand's time zone."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        from zoneinfo import ZoneInfo

        from flask import current_app

        return value.astimezone(ZoneInfo(current_app.config["BRAND_TIMEZONE"])).isoformat()

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            raise ValidationError("give the time with its offset, e.g. 2026-11-23T10:00:00+08:00")
        if not 2000 <= result.year <= 2200:
            raise ValidationError("the year must be between 2000 and 2200")
        return result


class Money(fields.Decimal):
    """Money as a decimal string with two places ("129.90"), never a float; 0 to 1,000,000,000."""

    MAX = 10**9

    def __init__(self, **kwargs):
        kwargs.setdefault("places", 2)
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("allow_nan", False)
        kwargs.setdefault("metadata", {"example": "129.90", "description": "a decimal amount, 0 to 1000000000"})
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if not 0 <= result <= self.MAX:
            raise ValidationError(f"must be between 0 and {self.MAX}")
        return result


def page_of_list(rows: list, args: dict, dump) -> dict:
    """One page of a list already in memory (one filtered in Python, e.g. by what a member may see):
    ``items``, ``page``, ``per_page`` and the exact ``total``. Lists read from a query use ``page_of``."""
    page, per_page = args.get("page", 1), args.get("per_page", 50)
    chunk = rows[(page - 1) * per_page:page * per_page]
    return {"items": [dump(row) for row in chunk], "page": page, "per_page": per_page, "total": len(rows)}
