"""The plugin API: what a plugin imports to describe itself and implement hooks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("memberday")


@dataclass
class PluginInfo:
    """A plugin's metadata; its version comes from its installed distribution."""

    id: str
    name: str
    description: str = ""
    requires_core: str = ">=0.1,<1.0"
    depends_on: tuple[str, ...] = ()
    settings_schema: Any = None  # a marshmallow Schema class; fields with metadata secret=True are write-only
    enabled_by_default: bool = True


@dataclass(frozen=True)
class PeriodicJob:
    """A job run on a schedule: every ``interval`` seconds, or on a ``cron`` expression."""

    name: str
    interval: int | None = None
    cron: str | None = None


@dataclass(frozen=True)
class PageSection:
    title: str
    html: Any


@dataclass(frozen=True)
class MallOffer:
    item_id: int
    points_cost: int
    label: str = ""


@dataclass
class PluginRecord:
    """What the host knows of one installed plugin."""

    id: str
    module: Any = None
    info: PluginInfo | None = None
    version: str = "0"
    distribution: str | None = None
    status: str = "ok"  # ok / broken / incompatible
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status == "ok"


__all__ = ["hookimpl", "PluginInfo", "PeriodicJob", "PageSection", "MallOffer", "PluginRecord"]
