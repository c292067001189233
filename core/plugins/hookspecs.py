"""Every hook a Memberday plugin can implement.

A plugin is a module (or object) registered under the entry-point group
``memberday.plugins``. It carries a ``PLUGIN = PluginInfo(...)`` and implements
any of the hooks below with ``@hookimpl``::

    from core.plugins import PluginInfo, hookimpl

    PLUGIN = PluginInfo(id="birthday_gift", name="Birthday gift")

    @hookimpl
    def memberday_order_paid(order, member):
        ...

Three families:

* **setup hooks** run once at start-up for every installed plugin, enabled or
  not, so that switching a plugin on needs no restart. An exception in one
  marks that plugin ``broken`` (listed with the error) and the app still starts.
* **event hooks** are delivered from the event outbox (``core.events``): the
  core writes the event in the same transaction as the change, so an event
  exists exactly when its change was committed. Right after the commit it is
  delivered to every plugin that is on, each on its own: an exception is logged
  with the plugin id and counted, the other plugins still run and the member's
  request still succeeds. What a crash or an exception left undelivered, the
  relay job delivers later. The guarantees:

  - **at least once** per event and plugin: a handler may get the same event
    again (same ``event_id``) -- after it raised, or when the process died
    after the handler committed and before the delivery was recorded. Make
    handlers idempotent (unique sources in the ledger, ``event_id`` as a key);
  - **in order per member**: a member's events reach a plugin in the order
    they were committed; a later one waits while an earlier one is retried;
  - **not while off**: a plugin that is off when an event is delivered has it
    marked skipped and never gets it, even when switched on again. A rule that
    moves value therefore re-checks the state it depends on where it moves
    value (e.g. a reward release reads the order, not a remembered refund);
  - the objects passed are loaded when the event is delivered: they show the
    current state, which may be later than the event (an order paid and
    refunded since is ``refunded``);
  - a handler that raises is retried with back-off, up to
    ``EVENT_MAX_ATTEMPTS``, and counts towards the switch-off: after
    ``PLUGIN_MAX_CONSECUTIVE_FAILURES`` failures in a row the plugin is switched
    off and operators get a notification. Results are ignored.
* **filter and provider hooks** return something the core uses. Only enabled
  plugins are asked; a plugin that raises is treated as having no answer (the
  core's default stands) and the failure is counted as for events. When a
  transaction is open the call runs in a savepoint, so a plugin never rolls
  back (or spoils) its caller's work.

Every hook name starts with ``memberday_``; arguments are passed by name, and a
plugin may accept any subset of them.
"""
from core.plugins import hookspec

# --------------------------------------------------------------------------
# Setup hooks: called once per installed plugin when the app is created.
# --------------------------------------------------------------------------


@hookspec(historic=True)
def memberday_add_hookspecs(pluginmanager):
    """Declare hooks of your own, for other plugins to implement (like pytest's ``pytest_addhooks``).

    Called once, as the plugin is registered, with the host's
    ``pluggy.PluginManager``; call only its ``add_hookspecs``. Plugins that
    implement this hook are registered before the others, so a plugin that
    implements your hook finds it declared. Call your hook with
    ``current_host().call_each(...)`` (or ``first_result`` for a
    ``firstresult`` hook): only enabled plugins answer, each isolated.

    A plugin implementing a hook that another plugin declares should mark the
    implementation ``@hookimpl(optionalhook=True)`` unless it depends on that
    plugin (``depends_on``); otherwise it is listed ``broken`` when the
    declaring plugin is not installed.

    Example::

        # memberday_points_mall/hookspecs.py
        from core.plugins import hookspec

        @hookspec
        def memberday_mall_offers(member):
            '''Return extra offers for ``member``.'''

        # plugins/points_mall/__init__.py
        @hookimpl
        def memberday_add_hookspecs(pluginmanager):
            from plugins.points_mall import hookspecs
            pluginmanager.add_hookspecs(hookspecs)
    """


@hookspec
def memberday_blueprints(app):
    """Return a list of Flask or flask-smorest blueprints to register.

    flask-smorest blueprints appear in ``/api/openapi.json``. While the plugin
    is disabled every route of these blueprints answers 404.

    Result: used (every plugin's list is registered). Raising: the plugin is
    marked broken.

    Example::

        blp = Blueprint("birthday", __name__, url_prefix="/api/v1/birthday")

        @hookimpl
        def memberday_blueprints(app):
            return [blp]
    """


@hookspec
def memberday_cli_commands():
    """Return a list of click commands or groups added to the ``memberday`` CLI.

    A command of a disabled plugin stays listed and refuses to run.

    Example::

        @click.command("birthday-gifts")
        def send_now():
            ...

        @hookimpl
        def memberday_cli_commands():
            return [send_now]
    """


@hookspec
def memberday_jobs():
    """Return ``{name: function}``: background jobs this plugin can enqueue.

    Names are global; prefix them with the plugin id. ``core.jobs.enqueue(name,
    *args)`` runs the function later in an rq worker (inline when no Redis is
    configured) inside an app context. Arguments must be JSON-like values (ids,
    not objects). A job of a disabled plugin does nothing when it runs. Jobs may
    be retried, so they must book nothing twice.

    Example::

        def send_gift(member_id):
            ...

        @hookimpl
        def memberday_jobs():
            return {"birthday_gift.send": send_gift}
    """


@hookspec
def memberday_periodic_jobs():
    """Return a list of ``PeriodicJob(name, interval=seconds)`` or ``cron="0 9 * * *"``.

    ``name`` must be a job returned by ``memberday_jobs``. ``rq cron core.cron``
    enqueues them on schedule; ``memberday cron --once`` runs each once, now.

    Example::

        @hookimpl
        def memberday_periodic_jobs():
            return [PeriodicJob("birthday_gift.send_due", cron="0 9 * * *")]
    """


@hookspec
def memberday_migrations_folder():
    """Return the path of this plugin's Alembic versions folder.

    The plugin's migrations are a branch of their own: the first revision has
    ``branch_labels = ("<plugin id>",)``, ``down_revision = None`` and
    ``depends_on = "core_0001"`` (or a later core revision). Tables are
    prefixed with the plugin id. Collected for every installed plugin, enabled
    or not; ``memberday db upgrade`` brings them all to head.

    Example::

        @hookimpl
        def memberday_migrations_folder():
            return str(Path(__file__).parent / "migrations")
    """


@hookspec
def memberday_template_folders():
    """Return a list of folders searched for Jinja templates (after the core's).

    Prefer a sub-folder named after the plugin id to avoid clashes.

    Example::

        @hookimpl
        def memberday_template_folders():
            return [str(Path(__file__).parent / "templates")]
    """


@hookspec
def memberday_translations():
    """Return the plugin's gettext catalog directory (``<dir>/<locale>/LC_MESSAGES/messages.mo``).

    Catalogs are compiled ``.mo`` files for ``zh_Hant``, ``zh_Hans`` and ``en``,
    made with ``pybabel`` from the strings the plugin marks with ``_()`` in its
    templates and Python code (``from core.i18n import _``). They are merged
    after the core's, so a plugin's own strings are found whatever the request's
    locale. Called once at start-up.

    Result: used. Raising: the plugin is marked broken.

    Example::

        @hookimpl
        def memberday_translations():
            return str(Path(__file__).parent / "translations")
    """


@hookspec
def memberday_console_pages():
    """Return a ``ConsolePages(blueprint, menu=[MenuEntry(title, endpoint)], headline=None)``.

    The blueprint is a plain Flask blueprint; the console registers it under
    ``/console/<plugin id>`` behind its sign-in and role gate (admins and
    operators only: staff reach nothing but the scanner), and lists the menu
    entries in its navigation. Templates extend ``console/base.html`` and fill
    the ``content`` block. ``headline``, if given, is called with no arguments
    to put one figure on the dashboard: it returns a ``Headline(label, value,
    endpoint)``. ``staff_endpoints`` names the pages store staff may open as
    well (a scanner of the plugin's own); its menu entries show for staff too.
    While the plugin is off, its pages answer 404 and its menu entries and
    headline are gone.

    Result: used. Raising: the plugin is marked broken.

    Example::

        console = Blueprint("birthday_console", __name__)

        @console.route("/")
        def gifts():
            return render_template("birthday_gift/console.html", gifts=recent_gifts())

        @hookimpl
        def memberday_console_pages():
            return ConsolePages(console, menu=[MenuEntry(_l("Birthday gifts"), "birthday_console.gifts")],
                                headline=lambda: Headline(_l("Gifts this month"), gifts_this_month()))
    """


# --------------------------------------------------------------------------
# Event hooks: delivered from the outbox after the core commits (at least once,
# in order per member, skipped while the plugin is off); results are ignored.
# Every one also receives ``event_id``: the event's id, the same on a redelivery.
# --------------------------------------------------------------------------


@hookspec
def memberday_member_created(member, context, event_id):
    """A member joined.

    :param member: the ``Member``.
    :param context: ``{"referral_code", "device_id", "channel"}`` as given at
        the join (values may be None).

    Example::

        @hookimpl
        def memberday_member_created(member, context):
            enqueue("welcome.send", member.id)
    """


@hookspec
def memberday_order_paid(order, member, event_id):
    """The shop reported a paid order (once per order, however often it is reported).

    :param order: the ``Order`` (``points_earned`` is already booked).
    :param member: its ``Member``.

    Example::

        @hookimpl
        def memberday_order_paid(order, member):
            if order.amount >= 1000:
                notify(member, "Thank you", "Enjoy a free drink on us.")
    """


@hookspec
def memberday_order_refunded(order, member, event_id):
    """An order was refunded; the points it earned (what remains) were taken back.

    Example::

        @hookimpl
        def memberday_order_refunded(order, member):
            cancel_held_rewards_for(order.external_id)
    """


@hookspec
def memberday_points_changed(member, entry, event_id):
    """A ledger entry was booked for ``member`` (``entry`` is the ``PointsEntry``).

    Example::

        @hookimpl
        def memberday_points_changed(member, entry):
            if member.points_balance > 10_000:
                tag(member, "points-rich")
    """


@hookspec
def memberday_coupon_redeemed(coupon, member, event_id):
    """A coupon was redeemed, online by its owner or by staff in a store.

    Example::

        @hookimpl
        def memberday_coupon_redeemed(coupon, member):
            record_store_visit(member.id, coupon.redeemed_at)
    """


@hookspec
def memberday_message_received(message, member, event_id):
    """An inbound message was handled (after the keyword reply was chosen).

    :param message: the ``InboundMessage`` (``reply`` holds what was answered).
    :param member: the ``Member`` the sender is, or None.
    """


# --------------------------------------------------------------------------
# Filter and provider hooks: the core uses their results.
# --------------------------------------------------------------------------


@hookspec
def memberday_points_multiplier(member, order):
    """Return a multiplier (e.g. ``2``) for the base points of a paid order, or None.

    The core uses the largest multiplier returned (1 when none is). Raising
    counts as no answer.

    Example::

        @hookimpl
        def memberday_points_multiplier(member, order):
            return 3 if "vip" in member.tags else None
    """


@hookspec
def memberday_member_page_sections(member):
    """Return a list of ``PageSection(title, html)`` shown on the member's page.

    ``html`` must be ``markupsafe.Markup`` or is escaped. Raising drops the section.

    Example::

        @hookimpl
        def memberday_member_page_sections(member):
            return [PageSection("Birthday", Markup("<p>A gift awaits.</p>"))]
    """


@hookspec(firstresult=True)
def memberday_keyword_reply(member, text, channel, sender, message_id, now):
    """Answer an inbound message: return the reply text, or None to pass.

    The first plugin returning a value wins and no later plugin is asked
    (pluggy's ``firstresult``, in pluggy's order); a plugin that raises is
    skipped and the next is asked.

    Called inside the message's transaction, under its row lock, in a
    savepoint: what the plugin writes (through services, in ``transaction()``)
    commits together with the stored reply, and a repeat of the same message
    id is answered with that reply without asking again. Called inside
    ``core.i18n.in_language(member)``: ``_()`` in the reply is in the language
    the member saved (the brand's for a stranger), not the channel's.

    :param member: the ``Member`` whose WeChat openid is ``sender`` (None for strangers).
    :param text: the message text, stripped.
    :param channel: the channel's name (``wechat`` for the WeChat callback, or
        what the integration posting to ``/api/v1/messages`` calls itself).
    :param sender: the sender's id on that channel (an openid on WeChat).
    :param message_id: the channel's id of this message.
    :param now: when the message was received (aware UTC); apply time rules at it.

    Example::

        @hookimpl
        def memberday_keyword_reply(member, text, message_id, now):
            if text == "生日" and member is not None:
                return _("Your birthday gift is in your coupons.")
    """


@hookspec(firstresult=True)
def memberday_notification_channel(notification, member):
    """Deliver a notification on a channel of your own: return the channel name, or None.

    The first plugin to return a name has delivered it; if none does, the
    member's inbox (the default channel) keeps it. Raising counts as no answer
    and the inbox keeps it.

    Example::

        @hookimpl
        def memberday_notification_channel(notification, member):
            if member and member.openid:
                send_wechat_template(member.openid, notification.title)
                return "wechat"
    """


@hookspec(firstresult=True)
def memberday_send_one_time_code(phone, code, locale):
    """Send a member's one-time sign-in code by SMS (or any channel): return the channel name, or None.

    :param phone: the phone in E.164 (``+886912345678``).
    :param code: the 6 digits to send. Never log or store it; it signs the member in.
    :param locale: the language to write the message in (``zh_Hant``, ``zh_Hans`` or ``en``).

    The first plugin to return a name has delivered the code (pluggy's
    ``firstresult``); raising counts as no answer. When none delivers it, the
    development channel writes the code to the ``memberday.one_time_codes`` log
    (``ONE_TIME_CODES_TO_LOG``, off in production). It is called in the request
    that asked for the code, so keep it short (a timeout of a few seconds).

    Example::

        @hookimpl
        def memberday_send_one_time_code(phone, code, locale):
            from core.i18n import _, in_language

            with in_language(locale):
                text = _("Your sign-in code is %(code)s. It expires in 10 minutes.", code=code)
            sms_client().send(to=phone, text=text, timeout=5)
            return "sms"
    """


# --------------------------------------------------------------------------
# Demo data
# --------------------------------------------------------------------------


@hookspec
def memberday_seed_demo(members, operator):
    """Add believable demo data for this plugin (``memberday demo``, enabled plugins only).

    :param members: ``{stage: [Member, ...]}`` the core just seeded.
    :param operator: the demo admin ``Operator``.

    Example::

        @hookimpl
        def memberday_seed_demo(members, operator):
            for member in members["active"]:
                give_birthday_gift(member.id)
    """
