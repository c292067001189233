"""Schema building blocks every domain's ``schemas.py`` uses."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

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


class PageArgs(BaseSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ErrorBody(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields = fields.Dict()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


def page_of(query, args: dict, dump=None) -> dict:
    """Run a paged select and return the list envelope API.md describes.

    ``dump`` serialises each row; leave it out when the view's response schema does.
    """
    from core.extensions import db

    page, per_page = args.get("page", 1), args.get("per_page", 50)
    # Count over the query as a subquery: swapping its columns for count() would drop its FROM
    # when it has no WHERE clause, and every unfiltered list would report a total of 1.
    total = db.session.scalar(db.select(db.func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [dump(row) for row in rows] if dump else rows, "page": page, "per_page": per_page, "total": total}


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
