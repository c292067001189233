"""Rendering QR images, on their own: what the export's rendering processes import (no app, no database).

The ``qrcode`` library encodes; the images are written here, straight from its module matrix:

- **PNG**: a 1-bit greyscale image, each module a square of ``BOX`` pixels, compressed at zlib
  level 1 (the rows repeat, so that is nearly as small as level 9 and several times faster).
- **SVG**: one path, one rectangle per run of dark modules in a row, on a white background.

Two things the library would redo for every code are done once:

- **The version** (the code's size) depends only on the modes and lengths of the data's
  segments, so it is looked up once per such shape and remembered; every member of an export
  has a share link of the same shape.
- **The mask.** By default the library tries all eight mask patterns and keeps the one its
  penalty rules score best, which is most of an image's time. The export uses one fixed pattern
  (``EXPORT_MASK``): every mask pattern is part of the standard and every reader decodes it;
  the penalty score only avoids patterns that look like finder marks or large blocks, which
  may make a worn or badly printed code a little harder to read. The single image route keeps
  the best mask.
"""
from __future__ import annotations

import struct
import zlib

BOX = 10          # PNG pixels per module (an SVG module is 1 mm, as qrcode's own SVG had it)
QUIET_ZONE = 4    # modules of white around the code, as the standard asks
EXPORT_MASK = 0   # the export's fixed mask pattern (any of 0-7 is standard)

_VERSION_CACHE_MAX = 1024
_versions: dict[tuple, int] = {}


def modules(data: str, mask_pattern: int | None = None) -> list[list[bool]]:
    """The code's modules (True: dark), without the quiet zone. ``mask_pattern``: None for the
    library's best mask (eight tries), 0-7 to use that one."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=mask_pattern)
    code.add_data(data)
    shape = tuple((segment.mode, len(segment)) for segment in code.data_list)
    version = _versions.get(shape)
    if version is None:
        if len(_versions) >= _VERSION_CACHE_MAX:
            _versions.clear()
        version = _versions[shape] = code.best_fit()
    code.version = version
    code.make(fit=False)
    return code.modules


def png(matrix: list[list[bool]], box: int = BOX, quiet_zone: int = QUIET_ZONE) -> bytes:
    """A 1-bit PNG of the modules: black on white, ``box`` pixels a module."""
    count = len(matrix) + 2 * quiet_zone
    size = count * box
    padding = -size % 8
    row_bytes = (size + padding) // 8
    dark, light = "0" * box, "1" * box  # 1-bit greyscale: 0 is black
    margin = light * quiet_zone
    blank = (b"\x00" + int(light * count + "0" * padding, 2).to_bytes(row_bytes, "big")) * box * quiet_zone
    lines = [blank]
    for row in matrix:
        bits = margin + "".join([dark if module else light for module in row]) + margin + "0" * padding
        lines.append((b"\x00" + int(bits, 2).to_bytes(row_bytes, "big")) * box)  # filter byte 0, then the row
    lines.append(blank)
    return b"".join((b"\x89PNG\r\n\x1a\n",
                     _png_chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)),
                     _png_chunk(b"IDAT", zlib.compress(b"".join(lines), 1)),
                     _png_chunk(b"IEND", b"")))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def svg(matrix: list[list[bool]], quiet_zone: int = QUIET_ZONE) -> bytes:
    """An SVG of the modules: one path of the runs of dark modules, in module units."""
    count = len(matrix) + 2 * quiet_zone
    runs = []
    for y, row in enumerate(matrix, quiet_zone):
        x, width = 0, len(row)
        while x < width:
            if row[x]:
                start = x
                while x < width and row[x]:
                    x += 1
                runs.append(f"M{start + quiet_zone} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    millimetres = f"{count}mm"
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n"
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{millimetres}" height="{millimetres}" '
            f'viewBox="0 0 {count} {count}" shape-rendering="crispEdges">'
            f'<rect width="{count}" height="{count}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(runs)}"/></svg>\n').encode()


def render(data: str, image_format: str, mask_pattern: int | None = None) -> bytes:
    """The QR image of ``data`` as PNG or SVG bytes (``mask_pattern`` as for :func:`modules`)."""
    matrix = modules(data, mask_pattern)
    return svg(matrix) if image_format == "svg" else png(matrix)


def render_entry(entry: tuple[str, str, str]) -> tuple[str, bytes]:
    """(name in the ZIP, data, format) -> (name, image): one unit of an export's work, with the
    export's fixed mask."""
    name, data, image_format = entry
    return name, render(data, image_format, EXPORT_MASK)
