"""Label file helpers: base64 from carrier replies, format sniffing, image labels wrapped in a PDF."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from pypdf import PdfReader

from app.carriers.documents import decode_base64, image_to_pdf, sniff_format
from app.carriers.errors import CarrierBadResponse


def _gif(width: int = 1218, height: int = 812) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), color=255).save(out, format="GIF")
    return out.getvalue()


def test_a_landscape_gif_becomes_one_portrait_pdf_page_at_label_density() -> None:
    pdf = image_to_pdf("ups", _gif(), rotate_degrees=270)
    assert sniff_format(pdf) == "pdf"
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    # 812 x 1218 px at 203 dpi = 4 x 6 inches = 288 x 432 points.
    assert (round(float(box.width)), round(float(box.height))) == (288, 432)


def test_bytes_that_are_no_image_are_a_bad_carrier_response() -> None:
    with pytest.raises(CarrierBadResponse):
        image_to_pdf("ups", b"not an image")


def test_base64_is_decoded_with_whitespace_and_refused_when_broken() -> None:
    assert decode_base64("fedex", base64.b64encode(b"^XA^XZ").decode()[:4] + "\n" + base64.b64encode(b"^XA^XZ").decode()[4:]) == b"^XA^XZ"
    for bad in ("", None, "***", 12):
        with pytest.raises(CarrierBadResponse):
            decode_base64("fedex", bad)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"%PDF-1.4 ...", "pdf"), (b"\x89PNG\r\n", "png"), (b"GIF89a...", "gif"), (b"^XA^FO50,50^XZ", "zpl"), (b"hello", None)],
)
def test_formats_are_recognised_from_their_first_bytes(content: bytes, expected: str | None) -> None:
    assert sniff_format(content) == expected
