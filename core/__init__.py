"""Memberday: a campaign platform for brands that run a membership programme."""
from core.version import __version__


def create_app(config: dict | None = None):
    """Build the Flask app: settings, database, API, plugins, pages and CLI."""
    from core.app import build_app

    return build_app(config)


__all__ = ["create_app", "__version__"]
