"""rq cron configuration: ``rq cron --url $REDIS_URL core.cron``.

Registers every periodic job of the core and of each installed plugin; the
scheduler enqueues them on the queue the workers read. A periodic job of a
disabled plugin is still enqueued and does nothing when it runs.
"""
from rq import cron

from core import create_app
from core.jobs import perform, registry

_app = create_app()
with _app.app_context():
    for job in registry().periodic:
        cron.register(perform, _app.config["RQ_QUEUE"], args=(job.name, [], {}),
                      interval=job.interval, cron=job.cron, name=job.name)
