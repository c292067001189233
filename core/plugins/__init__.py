"""The plugin API: what a plugin imports to describe itself and implement hooks."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("memberday")
hookspec = pluggy.HookspecMarker("memberday")  # for plugins that declare hooks of their own


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
    # Keywords the plugin answers whenever it is on (core.messaging.keywords); a campaign's own
    # keywords are claimed when it is saved instead.
    keywords: tuple[str, ...] = ()

    # Names derived from the id, so that a plugin writes its id once (``PLUGIN.table("gifts")``).

    @property
    def slug(self) -> str:
        """The id as it appears in URLs: ``birthday_gift`` → ``birthday-gift``."""
        return self.id.replace("_", "-")

    def table(self, name: str) -> str:
        """A table name, prefixed with the plugin id: ``birthday_gift_gifts``."""
        return f"{self.id}_{name}"

    def source(self, *parts: Any) -> str:
        """A ledger source unique across the platform: ``birthday_gift:12:2026``."""
        return ":".join([self.id, *map(str, parts)])

    def job(self, name: str) -> str:
        """A job name (jobs are global): ``birthday_gift.send_due``."""
        return f"{self.id}.{name}"

    def template(self, name: str) -> str:
        """A template in the plugin's own sub-folder: ``birthday_gift/section.html``."""
        return f"{self.id}/{name}"

    def settings(self) -> dict:
        """The validated settings in force now (secrets included), as operators last saved them."""
        from core.plugins.host import plugin_settings

        return plugin_settings(self.id)

    def is_enabled(self) -> bool:
        from core.plugins.host import current_host

        return current_host().is_enabled(self.id)

    def api_blueprint(self, import_name: str, **options: Any):
        """A flask-smorest blueprint named after the plugin, under ``/api/v1/<slug>``."""
        from flask_smorest import Blueprint

        options.setdefault("url_prefix", f"/api/v1/{self.slug}")
        return Blueprint(self.id, import_name, **options)

    def page_blueprint(self, import_name: str, **options: Any):
        """A Flask blueprint for pages, named ``<id>_pages``, under ``/<slug>``."""
        from flask import Blueprint

        options.setdefault("url_prefix", f"/{self.slug}")
        return Blueprint(f"{self.id}_pages", import_name, **options)


def folder_hooks(folder: Any) -> tuple:
    """The ``memberday_migrations_folder`` and ``memberday_template_folders`` hooks of a plugin laid
    out as ``memberday plugins new`` lays it out: ``migrations/`` and ``templates/`` next to its
    ``__init__.py``. Assign them under those names (pluggy finds hooks by name)::

        memberday_migrations_folder, memberday_template_folders = folder_hooks(Path(__file__).parent)
    """
    from pathlib import Path

    folder = Path(folder)

    @hookimpl
    def memberday_migrations_folder():
        return str(folder / "migrations")

    @hookimpl
    def memberday_template_folders():
        return [str(folder / "templates")]

    return memberday_migrations_folder, memberday_template_folders


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


class PluginStatus(str, Enum):
    """Whether the host could take a plugin on: a closed set, shown in the plugin list."""

    OK = "ok"                      # registered; called while an operator has it switched on
    BROKEN = "broken"              # failed to import, has no valid PLUGIN, bad hooks, or a setup hook raised
    INCOMPATIBLE = "incompatible"  # needs another core version (PluginInfo.requires_core)
    REFUSED = "refused"            # valid pluggy, but uses what the host cannot honour (hook wrappers)

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


@dataclass(frozen=True)
class MenuEntry:
    """A link in the console's menu to a page of a plugin's console blueprint.

    ``title`` is shown as given (pass a ``lazy_gettext`` string to translate it);
    ``endpoint`` names a view of the plugin's console blueprint, e.g. ``"referral_console.funnel"``.
    """

    title: Any
    endpoint: str


@dataclass(frozen=True)
class Headline:
    """A campaign's headline figure on the console's dashboard."""

    label: Any
    value: Any
    endpoint: str | None = None


@dataclass(frozen=True)
class ConsolePages:
    """What ``memberday_console_pages`` returns: a Flask blueprint served under
    ``/console/<plugin id>``, its menu entries, optionally a callable giving the
    dashboard's headline figure for this campaign, and the endpoints store staff
    may open too (a scanner of the plugin's own; every other page is for admins
    and operators)."""

    blueprint: Any
    menu: tuple = ()
    headline: Any = None
    staff_endpoints: tuple = ()


@dataclass
class PluginRecord:
    """What the host knows of one installed plugin."""

    id: str
    module: Any = None
    info: PluginInfo | None = None
    version: str = "0"
    distribution: str | None = None
    status: PluginStatus = PluginStatus.OK
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status is PluginStatus.OK


def __getattr__(name: str) -> Any:
    # MallOffer moved to the plugin that declares the hook using it; kept importable for a release.
    if name == "MallOffer":
        import warnings

        warnings.warn("core.plugins.MallOffer moved: import it from plugins.points_mall.hookspecs",
                      DeprecationWarning, stacklevel=2)
        from plugins.points_mall.hookspecs import MallOffer

        return MallOffer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["hookimpl", "hookspec", "PluginInfo", "PeriodicJob", "PageSection", "MenuEntry", "Headline", "ConsolePages",
           "PluginRecord", "PluginStatus"]
