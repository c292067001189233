"""HTML forms generated from marshmallow schemas, so a page and the API validate with the same schema.

``form_fields`` describes each field of a schema as an input (kind, value, choices,
errors); ``read_form`` turns the strings a browser posts back into the types the
schema expects, leaving anything it cannot read as it came so that the schema
itself refuses it with its own message. Fields whose metadata says
``secret=True`` are write-only: shown as an empty password input with whether a
value is set, and left out of the result when left empty (the secret is kept).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from marshmallow import fields as mf
from marshmallow import missing
from marshmallow import validate

from core.i18n import translate_stored
from core.validation_messages import translated_fields


@dataclass
class FormField:
    name: str
    label: str
    kind: str  # checkbox / number / decimal / text / password / select / textarea / datetime
    value: object = ""
    choices: list = field(default_factory=list)
    required: bool = False
    help: str = ""
    secret_set: bool = False
    errors: list = field(default_factory=list)


def _kind(schema_field) -> str:
    if schema_field.metadata.get("secret"):
        return "password"
    if isinstance(schema_field, mf.Boolean):
        return "checkbox"
    if isinstance(schema_field, mf.Decimal):
        return "decimal"
    if isinstance(schema_field, (mf.Integer, mf.Float)):
        return "number"
    if isinstance(schema_field, mf.DateTime):
        return "datetime"
    if isinstance(schema_field, (mf.List, mf.Nested, mf.Dict)):
        return "textarea"
    if _choices(schema_field):
        return "select"
    return "text"


def _choices(schema_field) -> list[tuple[str, str]]:
    """(value, label) for a field limited to a set; labels from its ``choice_labels`` metadata."""
    labels = schema_field.metadata.get("choice_labels") or {}
    for validator in schema_field.validators:
        if isinstance(validator, validate.OneOf):
            return [(choice, str(labels.get(choice, choice))) for choice in validator.choices]
    return []


def label_for(name: str, schema_field=None) -> str:
    """A field's label: its ``label`` metadata (a lazy_gettext string), else its name in words."""
    label = schema_field.metadata.get("label") if schema_field is not None else None
    return str(label) if label else _(name.replace("_", " ").capitalize())


def _shown(kind: str, value):
    if value is None:
        return ""
    if kind == "textarea":
        return json.dumps(value, ensure_ascii=False, default=str)
    if kind == "datetime" and isinstance(value, datetime):
        local = value.astimezone(ZoneInfo(current_app.config["BRAND_TIMEZONE"]))
        return local.strftime("%Y-%m-%dT%H:%M")
    if kind == "datetime" and isinstance(value, str) and len(value) >= 16:
        return value[:16]
    return value


def form_fields(schema, values: dict | None = None, errors: dict | None = None,
                exclude: tuple = ()) -> list[FormField]:
    """The inputs of a form for ``schema``, filled with ``values`` and each field's errors."""
    values, errors = values or {}, errors or {}
    result = []
    for name, schema_field in schema.fields.items():
        if schema_field.dump_only or name in exclude:
            continue
        kind = _kind(schema_field)
        value = values.get(name)
        if value is None and name not in values and schema_field.load_default is not missing:
            default = schema_field.load_default
            value = default() if callable(default) else default
        messages = translated_fields(errors.get(name) or [])
        if isinstance(messages, dict):  # nested errors: one line each
            messages = [f"{key}: {problems(value)}" for key, value in messages.items()]
        result.append(FormField(
            name=name, label=label_for(name, schema_field), kind=kind,
            value="" if kind == "password" else _shown(kind, value),
            choices=_choices(schema_field), required=schema_field.required,
            help=str(schema_field.metadata.get("help") or ""),
            secret_set=kind == "password" and bool(value), errors=[str(m) for m in messages]))
    return result


def local_datetime(text: str) -> str:
    """A ``datetime-local`` value (no offset) read in the brand's time zone, as ISO 8601 with its offset."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return text
    if naive.tzinfo is not None:
        return naive.isoformat()
    return naive.replace(tzinfo=ZoneInfo(current_app.config["BRAND_TIMEZONE"])).isoformat()


def read_form(schema, form, exclude: tuple = ()) -> dict:
    """The posted form as the data ``schema.load`` expects (values it cannot read are passed as sent)."""
    data: dict = {}
    for name, schema_field in schema.fields.items():
        if schema_field.dump_only or name in exclude:
            continue
        kind = _kind(schema_field)
        if kind == "checkbox":
            data[name] = name in form
            continue
        if name not in form:
            continue
        raw = form.get(name, "").strip()
        if raw == "":
            if kind == "password":
                continue  # an empty secret keeps the one saved
            if schema_field.allow_none:
                data[name] = None
            elif schema_field.required or kind in ("text", "select"):
                data[name] = raw
            continue
        if kind == "number":
            try:
                data[name] = int(raw) if isinstance(schema_field, mf.Integer) else float(raw)
            except ValueError:
                data[name] = raw
        elif kind == "decimal":
            try:
                data[name] = str(Decimal(raw))
            except ArithmeticError:
                data[name] = raw
        elif kind == "textarea":
            try:
                data[name] = json.loads(raw)
            except ValueError:
                data[name] = raw
        elif kind == "datetime":
            data[name] = local_datetime(raw)
        else:
            data[name] = raw
    return data


def problems(messages, schema=None, labels: dict | None = None) -> str:
    """A marshmallow error dict on one line, for a flash message, in the reader's language.

    Fields are named by their labels: ``labels`` (name -> label) first, then the ``schema``'s
    field metadata; the messages are translated (``translated_fields``).
    """
    if isinstance(messages, dict):
        fields = schema.fields if schema is not None else {}
        return "; ".join(f"{_field_label(str(name), fields.get(name), labels)}: {problems(value)}"
                         for name, value in messages.items())
    if isinstance(messages, (list, tuple)):
        return ", ".join(problems(value) for value in messages)
    return translate_stored(str(messages))


def _field_label(name: str, schema_field, labels: dict | None) -> str:
    if labels and name in labels:
        return str(labels[name])
    return label_for(name, schema_field)
