"""One JSON file that carries a procedure and its form from one city to another
(issue 14, point 1: LoGoフォーム's フォームシェア in the Japanese market).

File shape::

    {"madoguchi_form": 1, "procedure": {ProcedureDraft fields}, "form": {Form},
     "exported": {"office": "…", "version": 3, "at": "2026-12-01T10:00:00+09:00"}}   # optional

:func:`read_shared` checks everything and reports every problem at once, with
where it is (``procedure.slug``, ``form.pages.1.questions.0.options``); nothing is
stored from a file with a problem.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from .form import Form, FormError, parse_form
from .procedure import ProcedureDraft

#: The largest shared file accepted (bytes).
MAX_BYTES = 1024 * 1024


def write_shared(procedure: ProcedureDraft, form: Form, exported: dict[str, Any] | None = None) -> bytes:
    """The shared file (UTF-8 JSON, indented) of ``procedure`` and ``form``."""
    doc: dict[str, Any] = {
        "madoguchi_form": 1,
        "procedure": procedure.model_dump(mode="json", exclude_defaults=False),
        "form": form.model_dump(mode="json", exclude_defaults=True),
    }
    if exported:
        doc["exported"] = exported
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def read_shared(data: bytes) -> tuple[ProcedureDraft, Form]:
    """The procedure and form of a shared file. Raises :class:`FormError` with
    every problem (location, message)."""
    if len(data) > MAX_BYTES:
        raise FormError([("", f"ファイルが大きすぎます（{MAX_BYTES // 1024} KBまで）。 "
                              f"The file is larger than {MAX_BYTES // 1024} KB.")])
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise FormError([("", f"JSONとして読めません: {err} The file is not JSON.")]) from None
    return read_document(doc)


def read_document(doc: Any) -> tuple[ProcedureDraft, Form]:
    """The procedure and form of a shared file already decoded from JSON. Raises
    :class:`FormError` with every problem (location, message)."""
    if not isinstance(doc, dict) or doc.get("madoguchi_form") != 1:
        raise FormError([("madoguchi_form", "madoguchi の様式ファイル（madoguchi_form: 1）ではありません。 "
                                            "This is not a madoguchi form file (madoguchi_form: 1).")])
    problems: list[tuple[str, str]] = []
    unknown = set(doc) - {"madoguchi_form", "procedure", "form", "exported"}
    problems += [(k, "不明な項目です。 Unknown field.") for k in sorted(unknown)]
    procedure: ProcedureDraft | None = None
    form: Form | None = None
    try:
        procedure = ProcedureDraft.model_validate(doc.get("procedure"))
    except ValidationError as err:
        problems += [(".".join(["procedure", *map(str, e["loc"])]), e["msg"].removeprefix("Value error, "))
                     for e in err.errors(include_url=False)]
    try:
        form = parse_form(doc.get("form"))
    except FormError as err:
        problems += [(f"form.{where}" if where else "form", what) for where, what in err.problems]
    if problems or procedure is None or form is None:
        raise FormError(problems)
    return procedure, form
