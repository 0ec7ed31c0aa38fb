"""The JSON Schema (2020-12) of one form version's stored answers: the documented
contract of the export (issue 14, point 1), and a second check of every
submission after the engine (:func:`validate`, with the ``jsonschema`` library).

The schema states shapes: each answer's type and bounds as the engine stores it
(:mod:`online_forms.answers`). Whether a question was shown, and so whether it
was required, depends on earlier answers and is the engine's decision; a
question is in ``required`` only when nothing can hide it (no condition on it or
its page, and no route before it that could skip its page).
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from . import patterns
from .form import MAX_GROUP_ITEMS, Form, Question

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(form: Form, *, schema_id: str | None = None) -> dict[str, Any]:
    """The schema of ``form``'s stored answers (a JSON object)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    skippable = False  # a route or page condition met so far could skip what follows
    for page in form.pages:
        fixed = page.show_if is None and not skippable
        for q in page.questions:
            properties[q.id] = _question(q)
            if q.required and q.show_if is None and fixed:
                required.append(q.id)
        if page.routes or page.show_if is not None:
            skippable = True
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "title": form.title.ja,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if schema_id:
        schema["$id"] = schema_id
    return schema


def _re2_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    # JSON Schema's "pattern" (a search, not a full match) through RE2, never Python's backtracking re.
    if validator.is_type(instance, "string") and not patterns.search(pattern, instance):
        yield ValidationError(f"does not match the pattern {pattern!r}")


#: Draft 2020-12 with ``pattern`` matched by RE2 (the patterns staff write are never run by ``re``).
Validator = validators.extend(Draft202012Validator, {"pattern": _re2_pattern})  # type: ignore[no-untyped-call]  # jsonschema leaves extend() unannotated


def validate(schema: dict[str, Any], answers: dict[str, Any]) -> list[str]:
    """Every way ``answers`` break ``schema``, as ``path: rule`` lines naming the
    schema keyword broken, never the value (none: valid)."""
    validator = Validator(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.validator}"
            for e in sorted(validator.iter_errors(answers), key=lambda e: list(map(str, e.absolute_path)))]


def _question(q: Question) -> dict[str, Any]:
    title = {"title": q.label.ja, **({"description": q.label.en} if q.label.en else {})}
    return {**title, **_shape(q)}


def _string(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


def _shape(q: Question) -> dict[str, Any]:
    t = q.type
    if t in ("text", "long_text"):
        out = _string(maxLength=q.max_length or (200 if t == "text" else 4000))
        if q.min_length:
            out["minLength"] = q.min_length
        if q.pattern:
            out["pattern"] = q.pattern
        return out
    if t == "number":
        out = {"type": "integer" if q.integer else "number"}
        if q.minimum is not None:
            out["minimum"] = q.minimum
        if q.maximum is not None:
            out["maximum"] = q.maximum
        return out
    if t in ("date", "birth_date"):
        return _string(format="date", pattern=r"^\d{4}-\d{2}-\d{2}$")
    if t == "choice":
        return {"enum": [o.value for o in q.options]}
    if t == "multi_choice":
        out = {"type": "array", "items": {"enum": [o.value for o in q.options]}, "uniqueItems": True}
        if q.min_items is not None:
            out["minItems"] = q.min_items
        if q.max_items is not None:
            out["maxItems"] = q.max_items
        return out
    if t == "yes_no":
        return {"type": "boolean"}
    if t == "email":
        return _string(format="email", maxLength=320)
    if t == "phone":
        return _string(pattern=r"^0\d{1,4}-\d{1,4}-\d{3,4}$")
    if t == "file":
        return _object({"id": _string(), "name": _string(), "type": {"enum": list(q.accept) or
                                                                      ["application/pdf", "image/jpeg", "image/png"]},
                        "size": {"type": "integer", "minimum": 1}})
    if t == "name":
        kana = _string(description="full-width katakana (フリガナ)")
        return _object({"family": _string(minLength=1, maxLength=50), "given": _string(maxLength=50),
                        "family_kana": kana, "given_kana": kana})
    if t == "address":
        return _object({"postal_code": _string(pattern=r"^(\d{7})?$"), "address": _string(minLength=1, maxLength=200),
                        "building": _string(maxLength=100)})
    if t == "sex":
        return {"enum": ["1", "2", "0"] if q.allow_unanswered else ["1", "2"],
                "description": "ISO 5218: 1 male, 2 female, 0 not answered"}
    # group
    inner = {sub.id: _question(sub) for sub in q.questions}
    return {"type": "array", "maxItems": min(q.max_items or MAX_GROUP_ITEMS, MAX_GROUP_ITEMS),
            **({"minItems": q.min_items} if q.min_items else {}),
            "items": {"type": "object", "properties": inner, "additionalProperties": False}}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
