"""Rendering a PDF briefing must not loosen image decoding for the rest of the server."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shieldwall.match.errors import ItemError
from shieldwall.match.files import pdq_of_image
from shieldwall.threatmodel.briefing import render_pdf


def test_truncated_images_are_still_rejected_after_a_pdf_briefing() -> None:
    pdf = render_pdf("<html><body><h1>Briefing</h1></body></html>", base_url="http://127.0.0.1/")
    assert pdf.startswith(b"%PDF")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "PNG")
    with pytest.raises(ItemError, match="corrupt or truncated"):
        pdq_of_image("broken.png", buffer.getvalue()[:100])
