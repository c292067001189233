"""The points mall's rules: the catalogue, voucher pools, redemptions and cancellations.

A redemption is one transaction that takes, in this order, the member's row
lock (so one member's redemptions queue behind each other and the per-member
limit is counted on settled data), the voucher codes (``FOR UPDATE SKIP
LOCKED``: concurrent redemptions pick different codes without waiting), the
points (the core ledger), the codes' assignment and the member's notification,
and last -- after the caller's own writes too, such as the idempotency key's
answer (``before_commit``) -- the item's counters with one conditional UPDATE,
so the hot row of a scarce item is locked only for that statement and the
commit. Any refusal rolls all of it back.

On PostgreSQL, for an item without voucher codes, the writes between the rules and the stock
-- the redemption, the balance, the ledger entry and the spend from the lots -- are one call of
``points_mall_redeem()`` (migration points_mall_0003) instead of seven ORM statements; the rows
are the same. SQLite, voucher items and a ledger with listeners take the ORM path.
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import case, func, or_, select, text, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.dialects import postgresql, sqlite

from core.database import before_commit, transaction, utcnow
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.extensions import db
from core.i18n import N_, _, in_language, ngettext, stored_template
from core.members.models import Member
from core.members.services import get_member
from core.notifications.services import notify, notify_operators
from core.plugins.host import current_host
from core.rewards import services as rewards
from plugins.points_mall import PLUGIN
from plugins.points_mall.hookspecs import MallOffer
from plugins.points_mall.models import MallItem, Redemption, VoucherCode
from plugins.points_mall.schemas import MAX_CODES_PER_IMPORT, MAX_QUANTITY

MAX_CODE_LENGTH = 100
CSV_HEADERS = {"code", "codes", "voucher", "voucher_code", "coupon_code"}

log = logging.getLogger(__name__)

# Ledger reasons, stored in English and shown in the reader's language (core.i18n.translate_stored).
# Translators: ledger reason
MALL_REASON = stored_template(N_("Points mall: %(item)s"))
# Translators: ledger reason
VOUCHER_REASON = stored_template(N_("Points mall: %(item)s · voucher %(codes)s"))
# Translators: ledger reason
VOUCHERS_REASON = stored_template(N_("Points mall: %(item)s · vouchers %(codes)s"))
# Translators: ledger reason
VOUCHERS_MORE_REASON = stored_template(N_("Points mall: %(item)s · vouchers %(codes)s (+%(more)s more)"))
# Translators: ledger reason
CANCELLED_REASON = stored_template(N_("Points mall: %(item)s cancelled"))


# ------------------------------------------------------------------ catalogue


def get_item(item_id: int) -> MallItem:
    item = db.session.get(MallItem, item_id)
    if item is None:
        raise NotFound(_("Item %(id)s does not exist.", id=item_id))
    return item


def create_item(data: dict) -> MallItem:
    """Add an item to the catalogue, with its pool of voucher codes when given."""
    data = dict(data)
    codes = data.pop("voucher_codes", None)
    cleaned = clean_codes(codes) if codes is not None else None
    with transaction():
        item = MallItem(**data)
        db.session.add(item)
        db.session.flush()
        if cleaned is not None:
            result = _import(item, cleaned)
            if result["duplicates"]:
                raise ValidationFailed(_("Some voucher codes are already in a pool or repeated."),
                                       fields={"voucher_codes": [f"duplicates: {', '.join(result['duplicate_codes'])}"]})
        return item


def update_item(item_id: int, changes: dict) -> MallItem:
    """Change an item; ``stock`` set here is the new number of units left."""
    with transaction():
        item = _locked_item(item_id)
        starts_at = changes.get("starts_at", item.starts_at)
        ends_at = changes.get("ends_at", item.ends_at)
        if starts_at and ends_at and ends_at <= starts_at:
            raise ValidationFailed(_("The sale must end after it starts."), fields={"ends_at": ["must be after starts_at"]})
        for name, value in changes.items():
            setattr(item, name, value)
        item.updated_at = utcnow()
        return item


def _locked_item(item_id: int) -> MallItem:
    item = db.session.scalar(select(MallItem).where(MallItem.id == item_id).with_for_update()
                             .execution_options(populate_existing=True))
    if item is None:
        raise NotFound(_("Item %(id)s does not exist.", id=item_id))
    return item


def is_on_sale(item: MallItem, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (item.active and (item.starts_at is None or item.starts_at <= now)
            and (item.ends_at is None or now < item.ends_at))


def _on_sale_query(now: datetime):
    return (select(MallItem)
            .where(MallItem.active.is_(True),
                   or_(MallItem.starts_at.is_(None), MallItem.starts_at <= now),
                   or_(MallItem.ends_at.is_(None), MallItem.ends_at > now))
            .order_by(MallItem.points_cost, MallItem.id))


def tier_allows(member_tier: str, min_tier: str | None) -> bool:
    """Whether a member of ``member_tier`` reaches ``min_tier`` in the configured tier order."""
    if min_tier is None:
        return True
    tiers = current_app.config["TIERS"]
    if min_tier not in tiers or member_tier not in tiers:
        return False
    return tiers.index(member_tier) >= tiers.index(min_tier)


def offers_for(member: Member) -> dict[int, MallOffer]:
    """The best (lowest cost) offer per item that enabled plugins make to ``member``."""
    best: dict[int, MallOffer] = {}
    for plugin_id, result in current_host().call_each("memberday_mall_offers", member=member):
        for offer in result if isinstance(result, (list, tuple)) else [result]:
            if not _valid_offer(offer):
                log.warning("plugin %s made an unusable mall offer: %r", plugin_id, offer)
                continue
            current = best.get(offer.item_id)
            if current is None or offer.points_cost < current.points_cost:
                best[offer.item_id] = offer
    return best


def _valid_offer(offer) -> bool:
    return (isinstance(offer, MallOffer)
            and isinstance(offer.item_id, int) and not isinstance(offer.item_id, bool)
            and isinstance(offer.points_cost, int) and not isinstance(offer.points_cost, bool)
            and offer.points_cost >= 1)


@dataclass
class Listing:
    """An item as one member sees it: their price, their limit, what they lack."""

    item: MallItem
    points_cost: int
    offer_label: str | None = None
    limit_left: int | None = None
    points_short: int = 0

    @property
    def regular_points_cost(self) -> int:
        return self.item.points_cost

    def __getattr__(self, name):
        return getattr(self.item, name)


def public_catalogue(now: datetime | None = None) -> list[MallItem]:
    """Items on sale now that anyone may see (exclusive items are for the members offered them)."""
    items = db.session.scalars(_on_sale_query(now or utcnow())).all()
    return [item for item in items if not item.exclusive]


def member_catalogue(member: Member, now: datetime | None = None) -> tuple[list[Listing], list[Listing]]:
    """What ``member`` may take now, and what they could take with more points (with how many)."""
    offers = offers_for(member)
    taken = taken_by_member(member.id)
    takeable, short = [], []
    for item in db.session.scalars(_on_sale_query(now or utcnow())).all():
        offer = offers.get(item.id)
        if item.exclusive and offer is None:
            continue
        if not tier_allows(member.tier, item.min_tier):
            continue
        if item.available is not None and item.available < 1:
            continue
        limit_left = None
        if item.per_member_limit is not None:
            limit_left = item.per_member_limit - taken.get(item.id, 0)
            if limit_left < 1:
                continue
        cost = min(item.points_cost, offer.points_cost) if offer else item.points_cost
        listing = Listing(item, cost, offer.label if offer else None, limit_left,
                          max(0, cost - member.points_balance))
        (short if listing.points_short else takeable).append(listing)
    short.sort(key=lambda listing: (listing.points_short, listing.item.id))
    return takeable, short


def taken_by_member(member_id: int) -> dict[int, int]:
    rows = db.session.execute(
        select(Redemption.item_id, func.sum(Redemption.quantity))
        .where(Redemption.member_id == member_id, Redemption.status == "completed")
        .group_by(Redemption.item_id)).all()
    return {item_id: int(quantity) for item_id, quantity in rows}


@dataclass
class ItemReport:
    """An item as operators see it, with its redemption counts."""

    item: MallItem
    on_sale: bool
    redemptions: int
    cancelled_redemptions: int

    def __getattr__(self, name):
        return getattr(self.item, name)


def operator_catalogue(on_sale: bool | None = None, now: datetime | None = None):
    """Every item (or only those on sale now, or only those not), newest first, with counts."""
    now = now or utcnow()
    items = db.session.scalars(select(MallItem).order_by(MallItem.id.desc())).all()
    counts: dict[tuple[int, str], int] = {
        (item_id, status): count for item_id, status, count in db.session.execute(
            select(Redemption.item_id, Redemption.status, func.count())
            .group_by(Redemption.item_id, Redemption.status)).all()}
    reports = [ItemReport(item, is_on_sale(item, now), counts.get((item.id, "completed"), 0),
                          counts.get((item.id, "cancelled"), 0)) for item in items]
    if on_sale is not None:
        reports = [report for report in reports if report.on_sale == on_sale]
    return reports


def item_report(item_id: int) -> ItemReport:
    item = get_item(item_id)
    counts = dict(db.session.execute(
        select(Redemption.status, func.count()).where(Redemption.item_id == item.id)
        .group_by(Redemption.status)).all())
    return ItemReport(item, is_on_sale(item), counts.get("completed", 0), counts.get("cancelled", 0))


# ------------------------------------------------------------------ voucher codes


def clean_codes(raw, field: str = "codes") -> list[str]:
    """Trim codes and drop blanks; refuse (listing the bad ones) anything that is not a usable code."""
    if not isinstance(raw, (list, tuple)):
        raise ValidationFailed(_("Give a list of codes."), fields={field: ["must be a list"]})
    codes, errors = [], {}
    for index, value in enumerate(raw):
        if not isinstance(value, str):
            errors[str(index)] = ["must be a string"]
            continue
        code = value.strip()
        if not code:
            continue
        if len(code) > MAX_CODE_LENGTH:
            errors[str(index)] = [f"longer than {MAX_CODE_LENGTH} characters"]
        elif not code.isprintable():
            errors[str(index)] = ["contains control characters"]
        else:
            codes.append(code)
        if len(errors) >= 20:
            break
    if errors:
        raise ValidationFailed(_("Some codes are not valid; nothing was imported."), fields={field: errors})
    if not codes:
        raise ValidationFailed(_("No codes were given."), fields={field: ["no codes"]})
    if len(codes) > MAX_CODES_PER_IMPORT:
        raise ValidationFailed(_("At most %(max)s codes per import.", max=MAX_CODES_PER_IMPORT), fields={field: ["too many"]})
    return codes


def codes_from_csv(data: bytes | str) -> list[str]:
    """The codes in a CSV file: the first column of each row, an optional header row skipped."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed(_("The file is not UTF-8 text."), fields={"file": ["not UTF-8"]}) from None
    if "\x00" in data:
        raise ValidationFailed(_("The file is not a CSV text file."), fields={"file": ["contains NUL characters"]})
    codes = []
    try:
        for row in csv.reader(io.StringIO(data, newline="")):
            first = row[0].strip() if row else ""
            if not first:
                continue
            if not codes and first.lower() in CSV_HEADERS:
                continue
            codes.append(first)
            if len(codes) > MAX_CODES_PER_IMPORT:
                raise ValidationFailed(_("At most %(max)s codes per import.", max=MAX_CODES_PER_IMPORT),
                                       fields={"file": ["too many codes"]})
    except csv.Error as error:
        raise ValidationFailed(_("The CSV cannot be read: %(error)s", error=error), fields={"file": ["not a CSV file"]}) from None
    return clean_codes(codes, field="file")


def import_codes(item_id: int, codes: list[str]) -> dict:
    """Add codes to an item's pool; codes already in any pool (or repeated) are refused and counted."""
    with transaction():
        item = _locked_item(item_id)
        return _import(item, codes)


def _import(item: MallItem, codes: list[str]) -> dict:
    unique, duplicates, seen = [], [], set()
    for code in codes:
        if code in seen:
            duplicates.append(code)
        else:
            seen.add(code)
            unique.append(code)
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    table = VoucherCode.__table__
    now = utcnow()
    imported = 0
    for start in range(0, len(unique), 1000):
        chunk = unique[start:start + 1000]
        # A code already in a pool -- even one being imported concurrently -- is skipped, not an error.
        inserted = set(db.session.scalars(
            dialect.insert(table)
            .values([{"item_id": item.id, "code": code, "status": "available", "imported_at": now} for code in chunk])
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(table.c.code)).all())
        imported += len(inserted)
        duplicates.extend(code for code in chunk if code not in inserted)
    item.voucher_pool = True
    item.codes_left += imported
    item.updated_at = now
    db.session.flush()
    return {"imported": imported, "duplicates": len(duplicates), "duplicate_codes": duplicates[:20],
            "codes_left": item.codes_left}


def code_list(item_id: int, status: str | None = None):
    get_item(item_id)
    query = select(VoucherCode).where(VoucherCode.item_id == item_id).order_by(VoucherCode.id)
    if status:
        query = query.where(VoucherCode.status == status)
    return query


# ------------------------------------------------------------------ redemptions


def redeem(member_id: int, item_id: int, quantity: int = 1, actor: str | None = None) -> Redemption:
    """Spend points on ``quantity`` units of an item: points, stock, codes and record, all or nothing."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed(_("The quantity must be 1-%(max)s.", max=MAX_QUANTITY), fields={"quantity": ["out of range"]})
    offer = offers_for(get_member(member_id)).get(item_id)
    # What the response shows (the redemption, its item and codes) is written or locked
    # here: the commit need not expire it, and the response reloads nothing.
    with transaction(keep_loaded=True):
        member = rewards.lock_member(member_id)
        # The item is read once the member is locked (a redemption may wait there while an
        # operator changes the price or the sale window), fresh even if this session held it;
        # stock and codes are checked where they are taken (the conditional update below).
        item = db.session.get(MallItem, item_id, populate_existing=True)
        if item is None:
            raise NotFound(_("Item %(id)s does not exist.", id=item_id))
        now = utcnow()
        if not is_on_sale(item, now):
            raise Conflict(_("This item is not on sale now."), code="not_on_sale")
        if (item.exclusive and offer is None) or not tier_allows(member.tier, item.min_tier):
            raise Forbidden(_("This item is not offered to this member."), code="not_eligible")
        unit_cost = min(item.points_cost, offer.points_cost) if offer else item.points_cost
        total = unit_cost * quantity
        if item.per_member_limit is not None:
            taken = taken_by_member(member.id).get(item.id, 0)
            if taken + quantity > item.per_member_limit:
                raise Conflict(_("The limit is %(limit)s per member; %(taken)s already taken.", limit=item.per_member_limit, taken=taken),
                               code="limit_reached", extra={"limit": item.per_member_limit, "taken": taken})
        # Cheap refusals before any lock on codes or stock; the ledger and the
        # conditional update below are what actually guarantee both.
        if item.available is not None and item.available < quantity:
            raise _out_of_stock()
        if member.points_balance < total:
            raise _insufficient(member.points_balance, total)

        if _books_on_server(item):
            redemption = _book_on_server(member, item, quantity, unit_cost, total, offer, actor, now)
            if redemption is not None:
                set_committed_value(redemption, "item", item)
                set_committed_value(redemption, "codes", [])
                before_commit(lambda: _take_stock(item, quantity))
                return redemption

        redemption = Redemption(member_id=member.id, item_id=item.id, quantity=quantity, unit_cost=unit_cost,
                                points_spent=total, offer_label=offer.label[:120] if offer and offer.label else None,
                                status="completed", created_by=actor, created_at=now)
        db.session.add(redemption)
        db.session.flush()
        codes = _take_codes(item.id, quantity) if item.voucher_pool else []
        if item.voucher_pool and len(codes) < quantity:
            raise _out_of_stock()
        # Named after the redemption just inserted: nothing can be booked under it yet.
        rewards.debit(member.id, total, ledger_reason(item.name, quantity, [c.code for c in codes]),
                      redemption.ledger_source, locked=member, new_source=True)
        for code in codes:
            code.status = "assigned"
            code.redemption_id = redemption.id
            code.assigned_at = now
        if codes:
            with in_language(member):
                notify(member.id, _("Your voucher: %(item)s", item=item.name)[:200],
                       ngettext("Your code: %(codes)s", "Your codes: %(codes)s", len(codes),
                                codes=", ".join(c.code for c in codes)))
        # The redemption's item and codes are these: no lazy load to find them again.
        set_committed_value(redemption, "item", item)
        set_committed_value(redemption, "codes", list(codes))
        # The item's row is the one every redemption of it waits for: its conditional update is
        # the transaction's last statement, after whatever the caller still writes (the
        # idempotency key's answer), so the row is locked only for that update and the commit.
        # Out of stock there rolls everything above back.
        before_commit(lambda: _take_stock(item, quantity))
        return redemption


def _books_on_server(item: MallItem) -> bool:
    """Whether the redemption's writes go to ``points_mall_redeem()`` (migration points_mall_0003).

    On PostgreSQL, for an item without voucher codes, when no plugin listens to the ledger's
    ``memberday_points_changed`` (its event carries the entry, which the ORM path writes).
    Elsewhere the ORM path books the same rows.
    """
    return (not item.voucher_pool and db.session.get_bind().dialect.name == "postgresql"
            and not current_host().implementers("memberday_points_changed"))


_REDEEM_ON_SERVER = text(
    "SELECT new_redemption_id, new_balance FROM points_mall_redeem("
    "CAST(:member_id AS integer), CAST(:item_id AS integer), CAST(:quantity AS integer), "
    "CAST(:unit_cost AS bigint), CAST(:points AS bigint), CAST(:offer_label AS varchar), "
    "CAST(:created_by AS varchar), CAST(:now AS timestamptz), CAST(:reason AS varchar), "
    "CAST(:source_prefix AS varchar))")


def _book_on_server(member: Member, item: MallItem, quantity: int, unit_cost: int, total: int,
                    offer: MallOffer | None, actor: str | None, now: datetime) -> Redemption | None:
    """The redemption, the balance, the ledger entry and the spend from the lots in one round trip.

    The caller holds the member's lock and has checked every rule. The rows are those the ORM
    path writes (``tests/points_mall/test_redemption_on_server.py`` compares them). None, with
    nothing written, when the member has lots due to expire: the ORM path expires them first.
    """
    values = dict(member_id=member.id, item_id=item.id, quantity=quantity, unit_cost=unit_cost,
                  offer_label=offer.label[:120] if offer and offer.label else None, created_by=actor)
    row = db.session.execute(_REDEEM_ON_SERVER, dict(
        values, points=total, now=now, reason=ledger_reason(item.name, quantity, [])[:200],
        source_prefix=PLUGIN.source("redemption", ""))).first()
    if row is None:
        return None
    redemption_id, balance = row
    # What was written, as the ORM would hold it after a load: no statement to read it back.
    set_committed_value(member, "points_balance", balance)
    redemption = Redemption(id=redemption_id, points_spent=total, status="completed", created_at=now,
                            cancelled_at=None, cancelled_by=None, **values)
    make_transient_to_detached(redemption)
    db.session.add(redemption)
    return redemption


def _out_of_stock() -> Conflict:
    return Conflict(_("This item is out of stock."), code="out_of_stock")


def _insufficient(balance: int, needed: int) -> Conflict:
    return Conflict(_("The member has %(balance)s points; %(needed)s are needed.", balance=balance, needed=needed),
                    code="insufficient_points",
                    extra={"balance": balance, "needed": needed})


def _take_codes(item_id: int, quantity: int) -> list[VoucherCode]:
    """The next unused codes, skipping those a concurrent redemption holds."""
    return db.session.scalars(
        select(VoucherCode)
        .where(VoucherCode.item_id == item_id, VoucherCode.status == "available")
        .order_by(VoucherCode.id).limit(quantity)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)).all()


def _take_stock(item: MallItem, quantity: int) -> None:
    """Take units with one conditional UPDATE; tell operators when what is left crosses the threshold."""
    table = MallItem.__table__
    row = db.session.execute(
        update(table)
        .where(table.c.id == item.id, table.c.active.is_(True),
               or_(table.c.stock.is_(None), table.c.stock >= quantity),
               or_(table.c.voucher_pool.is_(False), table.c.codes_left >= quantity))
        .values(stock=table.c.stock - quantity,  # NULL (unlimited) stays NULL
                codes_left=case((table.c.voucher_pool.is_(True), table.c.codes_left - quantity),
                                else_=table.c.codes_left),
                sold=table.c.sold + quantity)
        .returning(table.c.stock, table.c.codes_left, table.c.voucher_pool, table.c.name, table.c.sold,
                   table.c.active)).first()
    if row is None:
        db.session.expire(item)
        if not db.session.get(MallItem, item.id).active:
            raise Conflict(_("This item is not on sale now."), code="not_on_sale")
        raise _out_of_stock()
    stock, codes_left, voucher_pool, name, sold, active = row
    # The row as this update left it: the item in memory is current without a reload.
    for attribute, value in (("stock", stock), ("codes_left", codes_left), ("voucher_pool", voucher_pool),
                             ("name", name), ("sold", sold), ("active", active)):
        set_committed_value(item, attribute, value)
    bounds = [value for value in (stock, codes_left if voucher_pool else None) if value is not None]
    if not bounds:
        return
    left = min(bounds)
    threshold = PLUGIN.settings().get("low_stock_threshold", 5)
    if left <= threshold < left + quantity:
        with in_language(None):  # operators read the brand's language
            notify_operators(_("Low stock: %(item)s", item=name)[:200],
                             _("%(left)s left of item %(id)s (%(item)s). Restock it or import more voucher codes.",
                               left=left, id=item.id, item=name))


def ledger_reason(item_name: str, quantity: int, codes: list[str]) -> str:
    """The ledger line a member reads, with their voucher codes (so they stay readable without the mall)."""
    item = item_name[:70] + (f" ×{quantity}" if quantity > 1 else "")
    if not codes:
        return MALL_REASON % {"item": item}
    template = VOUCHERS_REASON if len(codes) > 1 else VOUCHER_REASON
    shown: list[str] = []
    for index, code in enumerate(codes):
        rest = len(codes) - index - 1
        values = {"item": item, "codes": ", ".join(shown + [code]), "more": rest}
        candidate = (VOUCHERS_MORE_REASON if rest else template) % values
        if len(candidate) > 200:
            break
        shown.append(code)
    hidden = len(codes) - len(shown)
    values = {"item": item, "codes": ", ".join(shown), "more": hidden}
    return (VOUCHERS_MORE_REASON if hidden else template) % values


def get_redemption(redemption_id: int) -> Redemption:
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None:
        raise NotFound(_("Redemption %(id)s does not exist.", id=redemption_id))
    return redemption


def redemption_list(member_id: int | None = None, item_id: int | None = None, status: str | None = None):
    query = select(Redemption).order_by(Redemption.id.desc())
    if member_id is not None:
        query = query.where(Redemption.member_id == member_id)
    if item_id is not None:
        query = query.where(Redemption.item_id == item_id)
    if status:
        query = query.where(Redemption.status == status)
    return query


def cancel(redemption_id: int, actor: str | None = None) -> Redemption:
    """Undo a redemption once: points back to the same lots, units back, its voucher codes void."""
    member_id = get_redemption(redemption_id).member_id
    with transaction():
        rewards.lock_member(member_id)
        redemption = db.session.scalar(
            select(Redemption).where(Redemption.id == redemption_id).with_for_update(of=Redemption)
            .execution_options(populate_existing=True))
        if redemption.status == "cancelled":
            raise Conflict(_("This redemption is already cancelled."), code="already_cancelled")
        now = utcnow()
        reversal = rewards.reverse_debit(redemption.ledger_source,
                                         CANCELLED_REASON % {"item": redemption.item.name[:70]})
        table = MallItem.__table__
        db.session.execute(update(table).where(table.c.id == redemption.item_id)
                           .values(stock=table.c.stock + redemption.quantity,
                                   sold=table.c.sold - redemption.quantity))
        db.session.execute(update(VoucherCode.__table__)
                           .where(VoucherCode.redemption_id == redemption.id)
                           .values(status="void", voided_at=now))
        redemption.status = "cancelled"
        redemption.cancelled_at = now
        redemption.cancelled_by = actor
        db.session.flush()
        db.session.expire(redemption.item)
        db.session.expire(redemption, ["codes"])
        with in_language(member_id):
            notify(member_id, _("Cancelled: %(item)s", item=redemption.item.name)[:200],
                   ngettext("%(num)s point is back in your balance.", "%(num)s points are back in your balance.",
                            reversal.points))
        return redemption
