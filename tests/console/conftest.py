"""Console fixtures: browsers signed in to the console as an admin, staff, or nobody yet."""
from __future__ import annotations

import pytest

from console_client import ConsoleClient


@pytest.fixture
def console(memberday_app):
    """An admin signed in to the console."""
    return ConsoleClient(memberday_app).sign_in("admin")


@pytest.fixture
def staff_console(memberday_app):
    return ConsoleClient(memberday_app).sign_in("staff")


@pytest.fixture
def anonymous_console(memberday_app):
    return ConsoleClient(memberday_app)


@pytest.fixture
def sign_in_as(memberday_app):
    """``sign_in_as(role)``: another browser, signed in as a new operator of that role."""
    return lambda role: ConsoleClient(memberday_app).sign_in(role)
