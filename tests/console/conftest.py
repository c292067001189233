"""A console client: signs an operator in with name and password through the sign-in form, and sends each
form with its CSRF token."""
from __future__ import annotations

import re
import secrets

import pytest

from core.auth.services import create_operator

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "a long enough password"


class ConsoleClient:
    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.operator = None

    def sign_in(self, role: str = "admin", name: str | None = None, password: str = PASSWORD):
        name = name or f"{role}-{secrets.token_hex(3)}"
        with self.app.app_context():
            operator, token = create_operator(name, role, password=password)
            self.operator = {"id": operator.id, "name": name, "role": role, "token": token, "password": password}
        response = self.post("/console/sign-in", {"name": name, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)
        return self

    def csrf_token(self) -> str:
        page = self.http.get("/console/sign-in").get_data(as_text=True)
        return CSRF.search(page).group(1)

    def get(self, url, **kwargs):
        return self.http.get(url, **kwargs)

    def post(self, url, data=None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf_token())
        return self.http.post(url, data=data, **kwargs)

    def post_json(self, url, body, *, csrf: bool = True, headers=None):
        headers = dict(headers or {})
        if csrf:
            headers["X-CSRFToken"] = self.csrf_token()
        headers.setdefault("Accept", "application/json")
        return self.http.post(url, json=body, headers=headers)


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
