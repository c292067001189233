"""marshmallow's messages about a field, in the reader's language.

The API answers a bad field with marshmallow's own English (``{"fields": {"phone":
["Missing data for required field."]}}``). Each message it uses is declared here as a
stored template so that :meth:`core.errors.AppError.body` shows it translated, values
and all ("Length must be between 1 and 40." → 「長度須介於 1 到 40 之間。」).
"""
from core.i18n import N_, stored_template, translate_stored

MESSAGES = [stored_template(text) for text in (
    N_("Missing data for required field."),
    N_("Unknown field."),
    N_("Field may not be null."),
    N_("Invalid input."),
    N_("Invalid type."),
    N_("Invalid value."),
    N_("Not a valid string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid aware datetime."),
    N_("Not a valid naive datetime."),
    N_("Not a valid time."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Not a valid utf-8 string."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("String does not match expected pattern."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
    N_("Must be one of: %(choices)s."),  # MUST_BE_ONE_OF
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than or equal to %(min)s."),
    N_("Must be less than or equal to %(max)s."),
    N_("Must be greater than %(min)s."),
    N_("Must be less than %(max)s."),
)]

# What our own validators say when a value is not among the choices (the same words as marshmallow's OneOf).
MUST_BE_ONE_OF = "Must be one of: %(choices)s."


def translated_fields(messages):
    """Field messages (a list, or a dict of them, nested as marshmallow nests them) translated."""
    if isinstance(messages, dict):
        return {key: translated_fields(value) for key, value in messages.items()}
    if isinstance(messages, (list, tuple)):
        return [translated_fields(value) for value in messages]
    if isinstance(messages, str):
        return translate_stored(messages)
    return messages
