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

And one thing makes an export's images cheap after its first few: **a code is a linear function
of its data.** With the version, the mask and the length of a single byte segment fixed, every
step from the data's bytes to the modules is either a fixed pattern (finder, timing and format
modules, the segment's header, the padding), a permutation (interleaving, placement) or linear
over GF(2) (Reed-Solomon over GF(256), whose addition is XOR; the mask is an XOR with a fixed
pattern). So the modules of any data of that shape are the modules of a first one (the
*base*), XOR, for every data bit that differs from it, the change that flipping that one bit
makes. Each such change is worked out once, by the library itself, the first time a bit
differs; share links of an export differ only in the few bytes of their codes, so an image
then costs a few XORs of integers instead of an encoding.
"""
from __future__ import annotations

import math
import re
import struct
import zlib

BOX = 10          # PNG pixels per module (an SVG module is 1 mm, as qrcode's own SVG had it)
QUIET_ZONE = 4    # modules of white around the code, as the standard asks
EXPORT_MASK = 0   # the export's fixed mask pattern (any of 0-7 is standard)

_CACHE_MAX = 1024
_LINEAR_MAX = 32  # shapes kept with their bit changes (up to a few hundred integers each); an export has one
_versions: dict[tuple, int] = {}
_linear: dict[tuple, "_LinearCode"] = {}


def _code(data, mask_pattern: int | None):
    """The library's code for ``data`` (a string, or a prepared segment), at the version remembered
    for its shape; returns it with that shape."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=mask_pattern)
    code.add_data(data)
    shape = tuple((segment.mode, len(segment)) for segment in code.data_list)
    version = _versions.get(shape)
    if version is None:
        if len(_versions) >= _CACHE_MAX:
            _versions.clear()
        version = _versions[shape] = code.best_fit()
    code.version = version
    return code, shape


def modules(data: str, mask_pattern: int | None = None) -> list[list[bool]]:
    """The code's modules (True: dark), without the quiet zone, as the library makes them.
    ``mask_pattern``: None for the library's best mask (eight tries), 0-7 to use that one."""
    code, _ = _code(data, mask_pattern)
    code.make(fit=False)
    return code.modules


def _bits(matrix: list[list[bool]]) -> str:
    return "".join(["1" if module else "0" for row in matrix for module in row])


def _rows_of(bits: str, size: int) -> list[str]:
    return [bits[start:start + size] for start in range(0, size * size, size)]


class _LinearCode:
    """Codes of one shape (one byte segment of a given length) with one fixed mask, made as the
    base's modules XOR the change of each data bit that differs from the base (module docstring)."""

    def __init__(self, data: bytes, mask_pattern: int):
        self.mask_pattern, self.base = mask_pattern, data
        self.base_number = int.from_bytes(data, "big")
        bits = self._library_bits(data)
        self.size = math.isqrt(len(bits))
        self.modules = int(bits, 2)
        self.changes: dict[int, int] = {}

    def _library_bits(self, data: bytes) -> str:
        from qrcode.util import MODE_8BIT_BYTE, QRData

        code, _ = _code(QRData(data, mode=MODE_8BIT_BYTE), self.mask_pattern)
        code.make(fit=False)
        return _bits(code.modules)

    def change(self, bit: int) -> int:
        """What flipping data bit ``bit`` (0: the last byte's lowest) does to the modules."""
        found = self.changes.get(bit)
        if found is None:
            flipped = (self.base_number ^ (1 << bit)).to_bytes(len(self.base), "big")
            found = self.changes[bit] = int(self._library_bits(flipped), 2) ^ self.modules
        return found

    def rows(self, data: bytes) -> list[str]:
        result, differ = self.modules, int.from_bytes(data, "big") ^ self.base_number
        while differ:
            lowest = differ & -differ
            result ^= self.change(lowest.bit_length() - 1)
            differ ^= lowest
        return _rows_of(format(result, f"0{self.size * self.size}b"), self.size)


def rows(data: str, mask_pattern: int | None = None) -> list[str]:
    """The code's modules as rows of "1" (dark) and "0": the same modules as :func:`modules`.

    With a fixed mask, data the library puts in one byte segment is made by :class:`_LinearCode`.
    """
    from qrcode.util import MODE_8BIT_BYTE

    if mask_pattern is not None:
        code, shape = _code(data, mask_pattern)
        if len(shape) == 1 and shape[0][0] == MODE_8BIT_BYTE:
            key = (shape, code.version, mask_pattern)
            linear = _linear.get(key)
            if linear is None:
                if len(_linear) >= _LINEAR_MAX:
                    _linear.clear()
                linear = _linear[key] = _LinearCode(code.data_list[0].data, mask_pattern)
            return linear.rows(code.data_list[0].data)
    matrix = modules(data, mask_pattern)
    return _rows_of(_bits(matrix), len(matrix))


_pixels: dict[int, dict] = {}


def png(rows: list[str], box: int = BOX, quiet_zone: int = QUIET_ZONE) -> bytes:
    """A 1-bit PNG of the modules (rows of "1" dark, "0" light): black on white, ``box`` pixels a module."""
    count = len(rows) + 2 * quiet_zone
    size = count * box
    padding = -size % 8
    row_bytes = (size + padding) // 8
    pixels = _pixels.get(box)
    if pixels is None:  # 1-bit greyscale: 0 is black
        pixels = _pixels[box] = str.maketrans({"1": "0" * box, "0": "1" * box})
    margin, padding_bits = "1" * box * quiet_zone, "0" * padding
    blank = (b"\x00" + int("1" * size + padding_bits, 2).to_bytes(row_bytes, "big")) * box * quiet_zone
    lines = [blank]
    for row in rows:
        bits = margin + row.translate(pixels) + margin + padding_bits
        lines.append((b"\x00" + int(bits, 2).to_bytes(row_bytes, "big")) * box)  # filter byte 0, then the row
    lines.append(blank)
    return b"".join((b"\x89PNG\r\n\x1a\n",
                     _png_chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)),
                     _png_chunk(b"IDAT", zlib.compress(b"".join(lines), 1)),
                     _png_chunk(b"IEND", b"")))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


_DARK_RUN = re.compile("1+")


def svg(rows: list[str], quiet_zone: int = QUIET_ZONE) -> bytes:
    """An SVG of the modules (rows of "1" dark, "0" light): one path of the runs of dark modules, in module units."""
    count = len(rows) + 2 * quiet_zone
    runs = [f"M{run.start() + quiet_zone} {y}h{len(run.group())}v1h-{len(run.group())}z"
            for y, row in enumerate(rows, quiet_zone) for run in _DARK_RUN.finditer(row)]
    millimetres = f"{count}mm"
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n"
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{millimetres}" height="{millimetres}" '
            f'viewBox="0 0 {count} {count}" shape-rendering="crispEdges">'
            f'<rect width="{count}" height="{count}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(runs)}"/></svg>\n').encode()


def render(data: str, image_format: str, mask_pattern: int | None = None) -> bytes:
    """The QR image of ``data`` as PNG or SVG bytes (``mask_pattern`` as for :func:`modules`)."""
    matrix = rows(data, mask_pattern)
    return svg(matrix) if image_format == "svg" else png(matrix)


def render_entry(entry: tuple[str, str, str]) -> tuple[str, bytes]:
    """(name in the ZIP, data, format) -> (name, image): one unit of an export's work, with the
    export's fixed mask."""
    name, data, image_format = entry
    return name, render(data, image_format, EXPORT_MASK)
