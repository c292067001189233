"""A member's own points page in one statement: the member app's most frequent read.

``GET /api/v1/members/{id}/points`` with the member's own token is asked every time the app opens.
On PostgreSQL it is answered here from one statement that reads the member (token, language,
balance) and, through a ``LATERAL`` join, the page of ledger entries; the token is checked against
the row that statement read, and the answer is built without the ORM or a schema. Everything else
-- an operator's token, a token that does not match, ``page=`` beyond the first, ``count=exact``,
SQLite -- takes the ordinary path in ``core.rewards.api``, which gives the same body
(``tests/hot_routes/test_points_page.py`` compares the two, field by field).
"""
from __future__ import annotations

import functools
from zoneinfo import ZoneInfo

from flask import current_app, g, jsonify, request

from core.auth.services import accept_member_token, member_token_digest
from core.database import driver_rows, reads_only
from core.errors import ValidationFailed
from core.extensions import db
from core.i18n import member_preference_read, translate_stored_many
from core.rewards.models import PointsEntry
from core.schemas import decode_cursor, encode_cursor, estimated_rows

_NEWEST = 2**31 - 1  # ids are 32-bit: "before this id" with no cursor means every entry

_PAGE = """
SELECT m.name, m.token_hash, m.token_expires_at, m.locale, m.points_balance, m.points_pending,
       e.id, e.kind, e.points, e.pending_points, e.reason, e.source, e.created_at, e.expires_at
FROM members AS m
LEFT JOIN LATERAL (
    SELECT id, kind, points, pending_points, reason, source, created_at, expires_at
    FROM points_entries
    WHERE member_id = m.id AND id < %(before)s
    ORDER BY id DESC
    LIMIT %(limit)s
) AS e ON true
WHERE m.id = %(member_id)s
ORDER BY e.id DESC
"""


_FIRST_PAGE = {"page": 1, "per_page": 50}  # what PageArgs gives for an empty query string


def own_page_first(view):
    """Answer a member's own first page before the arguments are parsed, when there are none to
    parse: the app asks for exactly that every time it opens. Otherwise the view runs as always
    (and tries the lean page itself with the arguments it was given)."""
    @functools.wraps(view)
    def first(*args, **kwargs):
        if not request.query_string:
            page = own_points_page(kwargs["member_id"], _FIRST_PAGE)
            if page is not None:
                return page
        return view(*args, **kwargs)

    return first


def own_points_page(member_id: int, args: dict):
    """The JSON answer for a member reading their own points page, or None: take the ordinary path."""
    if "memberday_own_page" in g:
        return None  # tried once in this request already, and declined
    g.memberday_own_page = True
    deeper_by_offset = args.get("page", 1) != 1 and not args.get("after")
    if db.engine.dialect.name != "postgresql" or args.get("count") or deeper_by_offset:
        return None
    digest = member_token_digest()
    if digest is None:
        return None
    per_page = args.get("per_page", 50)
    before = _NEWEST
    if args.get("after"):
        try:
            before = min(decode_cursor(args["after"], (PointsEntry.id,))[0], _NEWEST)
        except ValidationFailed:
            return None  # refused by the ordinary path, after the token (a 401 comes before a 400)
    rows = driver_rows(_PAGE, {"member_id": member_id, "before": before, "limit": per_page + 1})
    if not rows:
        return None
    name, token_hash, token_expires_at, locale, balance, pending = rows[0][:6]
    if not accept_member_token(member_id, name, token_hash, token_expires_at, digest):
        return None
    member_preference_read(locale)
    entries = [row[6:] for row in rows if row[6] is not None]
    more, entries = len(entries) > per_page, entries[:per_page]
    result = {"per_page": per_page, "balance": balance, "pending": pending,
              "next": encode_cursor([entries[-1][0]]) if more else None}
    if args.get("after"):
        result["estimate"] = _estimate(member_id)
    else:
        result["page"] = 1
        # As page_of: a first page that is not full holds every row, and its length is the count.
        result["estimate"] = len(entries) if not more else _estimate(member_id)
    zone = ZoneInfo(current_app.config["BRAND_TIMEZONE"])
    texts = translate_stored_many(entry[4] for entry in entries)
    result["items"] = [{
        "id": entry_id, "kind": kind, "points": points, "pending_points": pending_points, "reason": reason,
        "reason_text": reason_text, "source": source, "created_at": created_at.astimezone(zone).isoformat(),
        "expires_at": expires_at.astimezone(zone).isoformat() if expires_at is not None else None,
    } for (entry_id, kind, points, pending_points, reason, source, created_at, expires_at), reason_text
        in zip(entries, texts)]
    return jsonify(result)


def _estimate(member_id: int) -> int | None:
    from core.rewards.services import history

    reads_only()  # the planner's estimate is a statement of its own, without a transaction either
    return estimated_rows(history(member_id))
