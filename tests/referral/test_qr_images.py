"""The QR images decode to what they hold: the PNG and SVG writers, the export's fixed mask, the
version remembered per data shape, and every image of an export ZIP, read back by a decoder."""
from __future__ import annotations

import random
import re
import zipfile
from io import BytesIO

import pytest
import qrcode
import zxingcpp
from PIL import Image, ImageDraw

from plugins.referral import qr

LINKS = [
    "http://localhost:5000/r/K7WQ2MZ?src=qr",
    "https://members.example.com/r/ABCDEFG?src=qr",
    "HTTPS://SHOP.EXAMPLE.COM/R/0123456789ABCDEFGHIJ?SRC=QR",  # an alphanumeric segment
    "https://a-rather-long-host-name.example.org/campaigns/spring/r/Z9Z9Z9Z?src=qr&utm_source=poster",
]


def decoded(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def library_modules(data: str, mask_pattern: int | None) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=mask_pattern)
    code.add_data(data)
    code.make(fit=True)
    return code.modules


def svg_raster(document: bytes, scale: int = 10) -> Image.Image:
    """Draw the SVG's white background and path runs (``M x y h w v 1 h -w z``) as pixels."""
    text = document.decode()
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', text).group(1))
    image = Image.new("L", (size * scale, size * scale), 0)
    draw = ImageDraw.Draw(image)
    assert re.search(rf'<rect width="{size}" height="{size}" fill="#fff"/>', text)
    draw.rectangle((0, 0, size * scale - 1, size * scale - 1), fill=255)
    path = re.search(r'<path fill="#000" d="([^"]*)"', text).group(1)
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path)
    assert "".join(f"M{x} {y}h{w}v1h-{back}z" for x, y, w, back in runs) == path  # nothing else in the path
    for x, y, width, back in runs:
        assert width == back
        x, y, width = int(x), int(y), int(width)
        draw.rectangle((x * scale, y * scale, (x + width) * scale - 1, (y + 1) * scale - 1), fill=0)
    return image


@pytest.mark.parametrize("data", LINKS)
@pytest.mark.parametrize("mask_pattern", [None, qr.EXPORT_MASK])
def test_png_decodes_to_its_data_and_has_the_library_modules(data, mask_pattern):
    assert qr.modules(data, mask_pattern) == library_modules(data, mask_pattern)
    image = Image.open(BytesIO(qr.render(data, "png", mask_pattern)))
    count = len(library_modules(data, mask_pattern)) + 2 * qr.QUIET_ZONE
    assert (image.format, image.mode, image.size) == ("PNG", "1", (count * qr.BOX, count * qr.BOX))
    assert decoded(image) == [data]


@pytest.mark.parametrize("data", LINKS)
def test_every_mask_pattern_decodes(data):
    for mask_pattern in range(8):
        assert decoded(Image.open(BytesIO(qr.render(data, "png", mask_pattern)))) == [data], mask_pattern


@pytest.mark.parametrize("data", LINKS)
@pytest.mark.parametrize("mask_pattern", [None, qr.EXPORT_MASK])
def test_svg_decodes_to_its_data(data, mask_pattern):
    document = qr.render(data, "svg", mask_pattern)
    assert document.startswith(b"<?xml") and b'xmlns="http://www.w3.org/2000/svg"' in document
    assert decoded(svg_raster(document)) == [data]


def test_the_remembered_version_follows_the_data_shape():
    short, long = "https://example.com/r/AAAAAAA?src=qr", "https://example.com/r/" + "a" * 90 + "?src=qr"
    for data in (short, long, short, long):  # each shape looked up once, then remembered
        assert qr.modules(data, qr.EXPORT_MASK) == library_modules(data, qr.EXPORT_MASK)
    assert len(qr.modules(long)) > len(qr.modules(short))


def test_every_image_of_an_export_decodes_to_its_members_link(memberday_sqlite_app, tmp_path):
    from core.members.services import create_member
    from plugins.referral import services

    memberday_sqlite_app.config.update(REFERRAL_EXPORT_DIR=str(tmp_path), REFERRAL_EXPORT_SEGMENT=4,
                                       REFERRAL_EXPORT_BATCH=3, REFERRAL_EXPORT_PROCESSES=2)
    with memberday_sqlite_app.app_context():
        members = [create_member(f"Member {n}")[0].id for n in range(9)]
        export = services.request_qr_export(None, "png", run_in_background=False)
        assert services.build_qr_export(export.id)["members"] == 9  # three segments, rendered by two processes
        path = services.export_path(services.get_export(export.id))
        links = {member_id: services.scan_url(services.code_for(member_id).code) for member_id in members}
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every entry's checksum holds after the segments were joined
        infos = archive.infolist()
        assert [int(info.filename.split("-")[0]) for info in infos] == members
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED  # PNGs are not compressed twice
            member_id = int(info.filename.split("-")[0])
            assert decoded(Image.open(BytesIO(archive.read(info)))) == [links[member_id]]


def library_rows(data: str, mask_pattern: int | None) -> list[str]:
    return ["".join("1" if module else "0" for module in row) for row in library_modules(data, mask_pattern)]


@pytest.mark.parametrize("mask_pattern", range(8))
def test_codes_made_from_a_base_and_bit_changes_are_the_librarys(mask_pattern):
    """The export's codes (the base's modules XOR the change of each differing data bit) equal
    the library's, module for module: share links that differ in their codes, data of other
    lengths and versions, and bytes outside ASCII (a byte segment of UTF-8)."""
    generator = random.Random(mask_pattern)
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    links = [f"https://members.example.com/r/{''.join(generator.choices(alphabet, k=7))}?src=qr" for _ in range(60)]
    texts = ["https://例子.example/" + "".join(chr(generator.randint(0x20, 0x9fff)) for _ in range(generator.randint(1, 30)))
             for _ in range(20)]
    for data in links + texts + [links[0], "".join(chr(byte) for byte in range(0x20, 0x7f))]:
        assert qr.rows(data, mask_pattern) == library_rows(data, mask_pattern), data
    assert qr.rows(links[0]) == library_rows(links[0], None)  # the best mask: the library's own path
