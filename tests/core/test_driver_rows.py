"""``core.database.driver_rows``: one statement on the driver's connection, for hot reads."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.testing import WireTrace


def test_outside_a_transaction_one_trip_and_the_connection_goes_back_as_it_came(memberday_app):
    from core.database import driver_rows
    from core.extensions import db

    with memberday_app.app_context():
        driver_rows("SELECT %(n)s::int, %(t)s::text", {"n": 0, "t": ""})  # prepared once on this connection
        with WireTrace(db.engine) as wire:
            assert driver_rows("SELECT %(n)s::int, %(t)s::text", {"n": 7, "t": "七"}) == [(7, "七")]
        assert wire.trips == 1  # no BEGIN, no ROLLBACK
        assert db.engine.pool.checkedout() == 0
        assert not db.session().in_transaction()
        with db.engine.connect() as connection:  # the pool's next user gets a transaction as usual
            assert connection.connection.driver_connection.autocommit is False


def test_inside_a_transaction_it_reads_what_the_transaction_wrote(memberday_app):
    from core.database import driver_rows, transaction
    from core.extensions import db
    from core.members.models import Member

    with memberday_app.app_context():
        with pytest.raises(RuntimeError):
            with transaction():
                member = Member(name="Not yet committed")
                db.session.add(member)
                db.session.flush()
                assert driver_rows("SELECT name FROM members WHERE id = %(id)s", {"id": member.id}) == [
                    ("Not yet committed",)]
                raise RuntimeError("roll it back")
        assert driver_rows("SELECT count(*) FROM members", {}) == [(0,)]


def test_a_failing_statement_raises_sqlalchemys_error_and_the_next_one_runs(memberday_app):
    from core.database import driver_rows

    with memberday_app.app_context():
        with pytest.raises(sa.exc.ProgrammingError):
            driver_rows("SELECT no_such_column FROM members", {})
        assert driver_rows("SELECT 1", {}) == [(1,)]


def test_a_failing_statement_inside_a_transaction_raises_sqlalchemys_error_and_rolls_back(memberday_app):
    from core.database import driver_rows, transaction
    from core.extensions import db
    from core.members.models import Member

    with memberday_app.app_context():
        with pytest.raises(sa.exc.ProgrammingError):
            with transaction():
                db.session.add(Member(name="Rolled back with the failed read"))
                db.session.flush()
                driver_rows("SELECT no_such_column FROM members", {})
        assert driver_rows("SELECT count(*) FROM members", {}) == [(0,)]
