"""What an attached file really is, read from its bytes (issue 14, point 3:
"size and type limits checked by content, not by name").

The media type comes from the file's signature (the ``filetype`` library); an
image must also decode (Pillow), so a file that only starts like a JPEG is
refused; a PDF must carry its end-of-file marker. The name the citizen gave is
kept for display only.
"""

from __future__ import annotations

import io

import filetype
from PIL import Image, UnidentifiedImageError

from .answers import AnswerError

#: The media types the product accepts at all (a question narrows them).
KNOWN = ("application/pdf", "image/jpeg", "image/png", "image/heic")


def sniff(data: bytes) -> str:
    """The media type of ``data``, one of :data:`KNOWN`. Raises :class:`AnswerError`
    ``file_type`` for anything else (including a file renamed to look like one)
    and ``bad_file`` for a damaged one."""
    kind = filetype.guess(data[:8192])
    mime = kind.mime if kind is not None else None
    if mime not in KNOWN:
        raise AnswerError("file_type", "このファイルの種類は添付できません（PDF・JPEG・PNG・HEIC のみ）。 "
                                       "This kind of file cannot be attached (PDF, JPEG, PNG or HEIC only).")
    if mime in ("image/jpeg", "image/png"):
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise AnswerError("bad_file", "画像ファイルが壊れているため読めません。 "
                                          "The image is damaged and cannot be read.") from None
    if mime == "application/pdf" and b"%%EOF" not in data[-2048:]:
        raise AnswerError("bad_file", "PDFファイルが途中で切れています。 The PDF file is incomplete.")
    return str(mime)
