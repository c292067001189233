"""Rendering QR images, on their own: what the export's rendering processes import (no app, no database)."""
from __future__ import annotations

from io import BytesIO


def render(data: str, image_format: str) -> bytes:
    """The QR image of ``data`` as PNG or SVG bytes."""
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(data)
    code.make(fit=True)
    buffer = BytesIO()
    if image_format == "svg":
        code.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    else:
        code.make_image().save(buffer)
    return buffer.getvalue()


def render_entry(entry: tuple[str, str, str]) -> tuple[str, bytes]:
    """(name in the ZIP, data, format) -> (name, image): one unit of an export's work."""
    name, data, image_format = entry
    return name, render(data, image_format)
