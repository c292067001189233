"""The hook the points mall offers other plugins, declared by the mall itself.

The core knows nothing of the mall: a campaign that wants to make an item
exclusive or cheaper implements ``memberday_mall_offers`` and returns
``MallOffer`` values, imported from here::

    from plugins.points_mall.hookspecs import MallOffer

A plugin that works without the mall marks its implementation
``@hookimpl(optionalhook=True)``, so it still loads where the mall is not installed.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.plugins import hookspec


@dataclass(frozen=True)
class MallOffer:
    """An item offered to one member at ``points_cost`` (exclusive items are seen only with an offer)."""

    item_id: int
    points_cost: int
    label: str = ""


@hookspec
def memberday_mall_offers(member):
    """Return extra points-mall offers for ``member``: a list of ``MallOffer(item_id, points_cost, label)``.

    A member-week or other campaign can make an item exclusive to some members
    or cheaper for them. Asked when the mall lists and sells items, inside the
    redemption's transaction (in a savepoint): read, do not write.

    Result used: the lowest ``points_cost`` offered for an item wins; an offer
    that is not a ``MallOffer`` with a whole ``points_cost`` of at least 1 is
    logged and ignored. Raising: no offers from that plugin, counted as a failure.

    Example::

        @hookimpl
        def memberday_mall_offers(member):
            if week_running():
                return [MallOffer(item_id=7, points_cost=500, label="Member week")]
    """
