"""A real browser for the members' pages: Playwright driving Debian's Chromium, phone-sized.

One Chromium for the whole session; each test gets fresh browser contexts (cookies,
language); its camera is a fake one that films what ``fake_camera`` shows it.
``MEMBERDAY_SCREENSHOTS=1`` saves the main pages to ``docs/screenshots/``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from browser_steps import CONSOLE_PASSWORD, operator_signs_in

CHROMIUM = os.environ.get("MEMBERDAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def camera_file(tmp_path_factory) -> Path:
    """The video file Chromium's fake camera plays (Y4M; see ``fake_camera``), read when a page starts the camera."""
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    write_y4m(path, _blank_frame())
    return path


@pytest.fixture(scope="session")
def chromium(camera_file):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # A camera that films ``camera_file``, allowed without asking: pages can scan what a test shows them.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_file}"])
        yield browser
        browser.close()


def _blank_frame():
    from PIL import Image

    return Image.new("RGB", (320, 240), (255, 255, 255))


def write_y4m(path: Path, image, frames: int = 2) -> None:
    """Write ``image`` (a Pillow image) as a still Y4M video (4:2:0), the format Chromium's fake camera plays."""
    frame = image.convert("RGB")
    width, height = frame.width - frame.width % 2, frame.height - frame.height % 2
    frame = frame.crop((0, 0, width, height)).convert("YCbCr")
    luma, blue, red = frame.split()
    half = (width // 2, height // 2)
    data = b"FRAME\n" + luma.tobytes() + blue.resize(half).tobytes() + red.resize(half).tobytes()
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        video.write(data * frames)


@pytest.fixture
def fake_camera(camera_file):
    """``fake_camera(image)``: the browser's camera films this Pillow image from the next time a page starts it."""

    def show(image) -> None:
        write_y4m(camera_file, image)

    yield show
    write_y4m(camera_file, _blank_frame())


@pytest.fixture
def phone(chromium, memberday_page_server):
    """``phone(locale)`` → a new page on a phone-sized screen whose browser speaks ``locale`` (e.g. ``zh-TW``)."""
    contexts = []

    def open_phone(locale: str = "zh-TW"):
        context = chromium.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                       locale=locale, base_url=memberday_page_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: saved to docs/screenshots/NAME.png when MEMBERDAY_SCREENSHOTS=1."""

    def take(page, name: str) -> None:
        if os.environ.get("MEMBERDAY_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def admin(memberday_app):
    """The demo brand (members, orders, coupons, campaigns), an admin "林小姐" and a staff member "門市 3",
    both with the console password ``CONSOLE_PASSWORD``; the admin's name."""
    from core.auth.services import create_operator
    from core.demo import seed

    with memberday_app.app_context():
        seed()
        create_operator("林小姐", "admin", password=CONSOLE_PASSWORD)
        create_operator("門市 3", "staff", password=CONSOLE_PASSWORD)
    return "林小姐"


@pytest.fixture
def console_sign_in():
    """``console_sign_in(page, name)``: sign an operator of the ``admin`` fixture in on the console's form."""
    return operator_signs_in
