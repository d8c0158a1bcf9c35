"""Label files as carriers send them: base64 text, images that must become PDFs, and what a file is.

Image conversion goes through Pillow (a well-kept library); nothing here
parses PDF or ZPL beyond recognising them.
"""

from __future__ import annotations

import base64
import binascii
import io

from PIL import Image, UnidentifiedImageError

from app.carriers.errors import CarrierBadResponse
from app.carriers.shipping import DocumentFormat

LABEL_DPI = 203
"""Thermal label printers print 203 dpi; a 4x6 inch label image is 812x1218 pixels at that density."""


def decode_base64(carrier: str, text: object, *, what: str = "label") -> bytes:
    """The bytes of a base64 string from a carrier reply (standard alphabet, whitespace ignored).

    Raises CarrierBadResponse when `text` is not a non-empty base64 string.
    """
    if not isinstance(text, str) or not text.strip():
        raise CarrierBadResponse(carrier, f"the {what} is missing from the reply")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CarrierBadResponse(carrier, f"the {what} is not valid base64") from None


def sniff_format(content: bytes) -> DocumentFormat | None:
    """What a label file is, from its first bytes: pdf, png, gif, zpl (starts with ^XA), or None."""
    head = content[:16].lstrip()
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"^XA", b"~", b"^")) or b"^XA" in content[:512]:
        return "zpl"
    return None


def image_to_pdf(carrier: str, content: bytes, *, rotate_degrees: int = 0, dpi: int = LABEL_DPI) -> bytes:
    """One PDF page holding the image `content` (GIF, PNG, ...), rotated counter-clockwise by `rotate_degrees`.

    The page size follows the image at `dpi` (a 1218x812 px UPS GIF at 203
    dpi is a 6x4 inch page). Raises CarrierBadResponse when the bytes are no
    image Pillow can read.
    """
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            page = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        raise CarrierBadResponse(carrier, "the label image cannot be read") from None
    if rotate_degrees % 360:
        page = page.rotate(rotate_degrees, expand=True)
    out = io.BytesIO()
    page.save(out, format="PDF", resolution=float(dpi))
    return out.getvalue()
