"""One spelling per person: phones in E.164 and e-mails case-folded with an IDNA domain.

``0912345678``, ``+886 912-345-678``, ``00886912345678`` and ``886912345678``
are one phone (``+886912345678``, read in ``DEFAULT_PHONE_REGION``, ``TW`` by
default) -- so joining, ``member_exists``, sign-in and the referral fraud checks
all compare the same string. Phones are read with Google's libphonenumber
(``phonenumbers``); e-mails with ``email-validator`` and ``idna``. An e-mail whose
parts mix scripts (a Cyrillic ``а`` among Latin letters: a look-alike of someone
else's address) is refused, found by ``confusable_homoglyphs`` (mixed scripts with look-alike letters); full-width and
other compatibility forms are folded (NFKC) first.
"""
from __future__ import annotations

import unicodedata

import phonenumbers
from confusable_homoglyphs import confusables
from email_validator import EmailNotValidError, validate_email

from core.i18n import _

DEFAULT_REGION = "TW"


def configured_region() -> str:
    """The running app's DEFAULT_PHONE_REGION (migrations run inside the app), else the default."""
    from flask import current_app

    try:
        return current_app.config.get("DEFAULT_PHONE_REGION") or DEFAULT_REGION
    except RuntimeError:  # no app: a script
        return DEFAULT_REGION


class IdentityError(ValueError):
    """A phone or e-mail that cannot be read; the message says why, for the person who typed it."""


def normalise_phone(phone: str | None, region: str | None = None) -> str | None:
    """The phone in E.164 (``+886912345678``), or None for no phone; IdentityError if it is not one."""
    if phone is None:
        return None
    text = unicodedata.normalize("NFKC", phone).strip()
    if not text:
        return None
    if len(text) > 40:
        raise IdentityError(_("That is not a phone number."))
    region = (region or DEFAULT_REGION).upper()
    candidates = [text]
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+"):
        # 00 is the international prefix in most countries (not in Taiwan, whose metadata says 002/009/...);
        # a number written with its country code but no "+" is common too.
        candidates.append("+" + (digits[2:] if digits.startswith("00") else digits))
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise IdentityError(_("That is not a phone number we can reach."))


def normalise_email(email: str | None) -> str | None:
    """The e-mail with its local part case-folded and its domain in IDNA (ASCII), or None for none."""
    if email is None:
        return None
    text = unicodedata.normalize("NFKC", email).strip()
    if not text:
        return None
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise IdentityError(_("That is not an e-mail address.")) from None
    local, domain = checked.local_part, checked.domain
    for part in (local, domain):
        if not part.isascii() and confusables.is_dangerous(part):
            raise IdentityError(_("That e-mail address mixes alphabets that look alike; please type it again."))
    ascii_domain = checked.ascii_domain or domain
    return f"{local.casefold()}@{ascii_domain.lower()}"
