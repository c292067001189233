"""Keywords: which plugin answers a word a member sends to the brand's account.

A plugin holds keywords in two ways:

- **declared** on its ``PluginInfo(keywords=("簽到",))``: held while the plugin is on;
- **claimed** by one of its campaigns when the campaign is saved (an event's 報名, a
  week's keyword): ``claim(plugin_id, keyword, owner, until=...)`` inside the saving
  transaction, held until ``release`` or until ``until`` passes.

A keyword has one holder at a time. Switching a plugin on whose declared keyword
another holds, or saving a campaign whose keyword another holds, is refused with
``409 keyword_taken`` naming the holder. An inbound message whose text is a held
keyword is answered by its holder alone; any other text is offered to every plugin
in turn (``memberday_keyword_reply``), for plugins that match more freely.
"""
from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.database import utcnow
from core.errors import Conflict, ValidationFailed
from core.extensions import db
from core.i18n import _
from core.messaging.models import KeywordClaim

MAX_LENGTH = 40


def normalise(text: str | None) -> str:
    """The form a keyword is kept and matched in: full-width folded (NFKC), case-folded, trimmed."""
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def _host():
    from core.plugins.host import current_host

    return current_host()


def declared(host=None) -> dict[str, list[str]]:
    """Every usable plugin's declared keywords: normalised keyword → plugin ids (on or off)."""
    host = host or _host()
    table: dict[str, list[str]] = {}
    for record in host.usable():
        for word in getattr(record.info, "keywords", ()) or ():
            table.setdefault(normalise(word), []).append(record.id)
    return table


def taken(keyword: str, plugin_id: str, owner: str | None = None) -> Conflict:
    holder = plugin_id if not owner else f"{plugin_id} ({owner})"
    return Conflict(_("The keyword %(keyword)s is held by %(holder)s.", keyword=repr(keyword), holder=holder),
                    code="keyword_taken",
                    fields={"keyword": [keyword]}, extra={"holder": {"plugin": plugin_id, "owner": owner}})


def _live(claim: KeywordClaim, now: datetime) -> bool:
    return claim.until is None or claim.until > now


def holder(text: str, now: datetime | None = None, host=None) -> str | None:
    """The plugin that answers ``text`` now, if it is a held keyword (the plugin may be off)."""
    keyword = normalise(text)
    if not keyword or len(keyword) > MAX_LENGTH:
        return None
    host = host or _host()
    for plugin_id in declared(host).get(keyword, ()):
        if host.is_enabled(plugin_id):
            return plugin_id
    claim = db.session.get(KeywordClaim, keyword)
    if claim is not None and _live(claim, now or utcnow()):
        return claim.plugin_id
    return None


def claim(plugin_id: str, keyword: str, owner: str, *, until: datetime | None = None,
          now: datetime | None = None) -> str:
    """Hold ``keyword`` for ``owner`` (in the caller's transaction); return its normalised form.

    Refused with ``409 keyword_taken`` when a plugin that is on declares it, or
    another owner's claim on it is still live. Claiming it again for the same
    owner moves ``until``.
    """
    now = now or utcnow()
    word = normalise(keyword)
    if not word or len(word) > MAX_LENGTH:
        raise ValidationFailed(_("A keyword has 1 to %(max)s characters.", max=MAX_LENGTH), fields={"keyword": [keyword]})
    host = _host()
    for other in declared(host).get(word, ()):
        if other != plugin_id and host.is_enabled(other):
            raise taken(word, other)
    row = db.session.scalar(select(KeywordClaim).where(KeywordClaim.keyword == word).with_for_update()
                            .execution_options(populate_existing=True))
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(KeywordClaim(keyword=word, plugin_id=plugin_id, owner=owner, until=until,
                                            claimed_at=now))
        except IntegrityError:  # claimed at the same moment by someone else
            raise taken(word, _("another campaign")) from None
        return word
    if (row.plugin_id, row.owner) != (plugin_id, owner) and _live(row, now):
        raise taken(word, row.plugin_id, row.owner)
    row.plugin_id, row.owner, row.until, row.claimed_at = plugin_id, owner, until, now
    return word


def release(plugin_id: str, owner: str, keep: tuple[str, ...] | list[str] = ()) -> None:
    """Let go of what ``owner`` holds, except the keywords in ``keep`` (in the caller's transaction)."""
    statement = delete(KeywordClaim).where(KeywordClaim.plugin_id == plugin_id, KeywordClaim.owner == owner)
    kept = [normalise(word) for word in keep if word]
    if kept:
        statement = statement.where(KeywordClaim.keyword.notin_(kept))
    db.session.execute(statement)


def clashes_on_enable(plugin_id: str, now: datetime | None = None) -> list[Conflict]:
    """What switching ``plugin_id`` on would clash with: its declared keywords held by others."""
    now = now or utcnow()
    host = _host()
    record = host.records[plugin_id]
    problems = []
    table = declared(host)
    for word in {normalise(w) for w in (getattr(record.info, "keywords", ()) or ())}:
        others = [other for other in table.get(word, ()) if other != plugin_id and host.is_enabled(other)]
        if others:
            problems.append(taken(word, others[0]))
            continue
        row = db.session.get(KeywordClaim, word)
        if row is not None and row.plugin_id != plugin_id and _live(row, now):
            problems.append(taken(word, row.plugin_id, row.owner))
    return problems


def held_by(plugin_id: str, now: datetime | None = None) -> list[dict]:
    """The keywords a plugin holds: declared ones and live claims, for ``plugins list`` and the console."""
    now = now or utcnow()
    host = _host()
    record = host.records.get(plugin_id)
    words = [{"keyword": normalise(w), "owner": None, "until": None}
             for w in (getattr(record.info, "keywords", ()) if record else ()) or ()]
    rows = db.session.scalars(select(KeywordClaim).where(KeywordClaim.plugin_id == plugin_id)
                              .order_by(KeywordClaim.keyword)).all()
    words += [{"keyword": row.keyword, "owner": row.owner, "until": row.until} for row in rows if _live(row, now)]
    return words
