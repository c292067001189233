"""``before_commit``: a step left for the end of the outermost transaction, right before its commit."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from core.errors import Conflict


def _member_named(name: str):
    from core.extensions import db
    from core.members.models import Member

    db.session.remove()
    return db.session.scalar(select(Member.id).where(Member.name == name))


def test_steps_run_after_everything_the_outer_blocks_write_in_order_before_the_commit(memberday_app):
    from core.database import before_commit, transaction
    from core.extensions import db
    from core.members.services import create_member

    seen: list[str] = []
    with memberday_app.app_context():
        engine = db.engine

        def sent(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().startswith(("INSERT INTO members", "UPDATE members")):
                seen.append(statement.split()[0])

        def committed(conn):
            seen.append("COMMIT")

        event.listen(engine, "before_cursor_execute", sent)
        event.listen(engine, "commit", committed)
        try:
            with transaction():
                with transaction():
                    member, _ = create_member("Last step runner")
                    before_commit(lambda: seen.append("first step"))
                    before_commit(lambda: seen.append("second step"))
                    assert "first step" not in seen  # the inner block's end is not the transaction's
                member.tags = ["outer"]  # the outer block's own write, after the service returned
                seen.append("outer block done")
        finally:
            event.remove(engine, "before_cursor_execute", sent)
            event.remove(engine, "commit", committed)
        assert seen.index("outer block done") < seen.index("UPDATE") < seen.index("first step") \
            < seen.index("second step") < seen.index("COMMIT")
        assert _member_named("Last step runner") is not None


def test_a_step_that_refuses_rolls_back_the_whole_transaction_and_reaches_the_caller(memberday_app):
    from core.database import before_commit, on_commit, transaction
    from core.members.services import create_member

    after: list[str] = []

    def refuse():
        raise Conflict("gone", code="out_of_stock")

    with memberday_app.app_context():
        with pytest.raises(Conflict) as refused:
            with transaction():
                create_member("Rolled back by its last step")
                on_commit(lambda: after.append("ran"))
                before_commit(refuse)
        assert refused.value.code == "out_of_stock"
        assert after == []  # no after-commit work: there was no commit
        assert _member_named("Rolled back by its last step") is None

        # The next transaction starts with no step left over.
        with transaction():
            create_member("Next one")
        assert _member_named("Next one") is not None


def test_a_step_needs_an_open_transaction(memberday_app):
    from core.database import before_commit

    with memberday_app.app_context():
        with pytest.raises(RuntimeError):
            before_commit(lambda: None)
