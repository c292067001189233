"""Tools for plugin authors: a new plugin package from the template, and its next migration.

``memberday plugins new NAME`` writes a package that installs, migrates, passes its own
tests and shows its section on the member page as it is; ``memberday plugins
makemigration ID -m MSG`` autogenerates the next revision on a plugin's own Alembic
branch against a scratch SQLite database, so authors need neither a database of
their own nor a hand edit.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import jinja2

from core.version import __version__ as core_version

TEMPLATE = Path(__file__).parent / "plugin_template"
PLUGIN_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}[a-z0-9]$")
# File names in the template: tokens replaced, ``.tmpl`` dropped (so the template is not a package of ours).
RENAMES = {"gitignore": ".gitignore"}


class KitError(Exception):
    """Something the author can fix: a bad name, an existing folder, an unknown plugin."""


def plugin_names(plugin_id: str) -> dict:
    """Every name a plugin derives from its id."""
    if not PLUGIN_ID.match(plugin_id) or "__" in plugin_id:
        raise KitError(f"{plugin_id!r} is not a plugin id: use lower-case letters, digits and single "
                       "underscores, starting with a letter (e.g. stamp_card)")
    major, minor = core_version.split(".")[:2]
    title = plugin_id.replace("_", " ").capitalize()
    return {
        "plugin_id": plugin_id,
        "package": f"memberday_{plugin_id}",
        "distribution": f"memberday-{plugin_id.replace('_', '-')}",
        "slug": plugin_id.replace("_", "-"),
        "title": title,
        "requires_core": f">={major}.{minor},<{int(major) + 1}.0",
        "core_revision": core_head(),
        "translations_result": _translations_result(),
        "section_title": repr(title),
    }


def _translations_result() -> str:
    return 'str(HERE / "translations")  # made by `make translations`'


def core_head() -> str:
    """The newest core revision: a new plugin's first migration depends on it."""
    from alembic.script import ScriptDirectory

    versions = Path(__file__).parent.parent / "migrations" / "versions"
    script = ScriptDirectory(str(versions.parent), version_locations=[str(versions)])
    heads = script.get_heads()
    if len(heads) != 1:
        raise KitError(f"the core migrations have {len(heads)} heads; expected one")
    return heads[0]


def new_plugin(plugin_id: str, parent: Path) -> Path:
    """Write a new plugin package into ``parent/<distribution>``; returns its folder."""
    names = plugin_names(plugin_id)
    target = Path(parent) / names["distribution"]
    if target.exists():
        raise KitError(f"{target} already exists")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE)), keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
        # The template holds Jinja templates of the plugin's own: ours use [[ ]] and [% %].
        variable_start_string="[[", variable_end_string="]]", block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]")
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE).as_posix()
        name = relative[: -len(".tmpl")]
        for token in ("package", "plugin_id"):
            name = name.replace(f"__{token}__", names[token])
        name = "/".join(RENAMES.get(part, part) for part in name.split("/"))
        out = target / name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(env.get_template(relative).render(**names), encoding="utf-8")
    from core import catalogs

    catalogs.update(catalogs.Source(names["package"], target / names["package"]))  # its strings, ready to translate
    return target


def make_migration(plugin_id: str, message: str) -> Path | None:
    """Autogenerate the next revision of a plugin's branch; None when its tables did not change.

    The plugin's models are compared with a scratch SQLite database upgraded to every
    head, so the revision holds only this plugin's changes (``-x only=<id>``). The first
    revision starts the branch (``branch_labels``) and depends on the newest core revision.
    """
    from alembic import command
    from alembic.script import ScriptDirectory
    from flask import current_app
    from flask_migrate import upgrade

    from core.plugins.host import current_host

    host = current_host()
    record = host.records.get(plugin_id)
    if record is None:
        raise KitError(f"no plugin {plugin_id!r} is installed")
    if not record.usable:
        raise KitError(f"plugin {plugin_id} is {record.status}: {record.error}")
    folders = dict(host.setup("memberday_migrations_folder"))
    if plugin_id not in folders:
        raise KitError(f"plugin {plugin_id} has no memberday_migrations_folder hook")
    folder = Path(folders[plugin_id]).resolve()
    folder.mkdir(parents=True, exist_ok=True)

    from core import create_app

    with tempfile.TemporaryDirectory() as scratch:
        app = create_app({"DATABASE_URL": f"sqlite:///{Path(scratch) / 'scratch.sqlite'}", "REDIS_URL": None,
                          "ENV_NAME": "development", "SECRET_KEY": current_app.config["SECRET_KEY"]})
        with app.app_context():
            upgrade(revision="heads")
            config = app.extensions["migrate"].migrate.get_config(x_arg=[f"only={plugin_id}"],
                                                                  opts=["autogenerate"])
            script = ScriptDirectory.from_config(config)
            branch = {rev.revision for rev in script.walk_revisions() if Path(rev.path).resolve().parent == folder}
            first = not branch

            def keep_if_changed(context, revision, directives):
                if directives[0].upgrade_ops.is_empty():
                    directives[:] = []

            command.revision(
                config, message=message, autogenerate=True,
                head="base" if first else f"{plugin_id}@head",
                branch_label=plugin_id if first else None,
                depends_on=core_head() if first else None,
                version_path=str(folder), rev_id=f"{plugin_id}_{len(branch) + 1:04d}",
                process_revision_directives=keep_if_changed)
            written = [rev for rev in ScriptDirectory.from_config(config).walk_revisions()
                       if Path(rev.path).resolve().parent == folder and rev.revision not in branch]
            from core.extensions import db

            db.engine.dispose()
    return Path(written[0].path) if written else None
