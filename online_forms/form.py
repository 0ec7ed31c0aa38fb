"""The form document: pages of questions, as staff build it and as it is shared
between cities (one JSON file, :func:`parse_form`).

Shape (``format`` 1)::

    {"format": 1, "title": {"ja": "…", "en": "…"},
     "pages": [{"id": "applicant", "title": {"ja": "…"}, "show_if": <JSON Logic> | null,
                "routes": [{"when": <JSON Logic>, "goto": "<a later page id>" | "end"}],
                "questions": [{"id": "name", "type": "name", "label": {"ja": "氏名", "en": "Name"},
                               "required": true, "show_if": null, …}]}]}

Question types (:data:`QUESTION_TYPES`) and the constraints each takes are in
:class:`Question`; a ``group`` holds inner questions answered once per item
(e.g. each family member). Ids are unique in the whole form (a group's inner
ids are unique within the group and distinct from the form's), so an answer is
named by its id. Conditions (``show_if``, a route's ``when``) read only answers
given earlier in the form (:mod:`online_forms.logic`); routes go forward only,
so every path through a form ends (the GOV.UK Forms routing rule).

Sources: seed 000 5.2 / 002 2.3 (forms built by staff without code), Open Forms'
form definitions and JSON Logic rules, GOV.UK Forms' pages and routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import logic, patterns

FORMAT = 1
#: The answer types a question may have.
QUESTION_TYPES = (
    "text", "long_text", "number", "date", "choice", "multi_choice", "yes_no", "email", "phone", "file",
    "name", "address", "birth_date", "sex", "group",
)
QuestionType = Literal[
    "text", "long_text", "number", "date", "choice", "multi_choice", "yes_no", "email", "phone", "file",
    "name", "address", "birth_date", "sex", "group",
]
#: Bounds that keep one form (and one application) a reasonable size.
MAX_PAGES = 60
MAX_QUESTIONS = 300
MAX_OPTIONS = 100
MAX_GROUP_ITEMS = 30
MAX_TEXT = 10_000
MAX_FILE_BYTES = 20 * 1024 * 1024
#: File types a question may accept (checked on the bytes, not the name).
FILE_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/heic")

Id = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$",
                          description="lower-case letters, digits and _, starting with a letter (≤ 40)")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(Strict):
    """A text in Japanese (required) and English (optional)."""

    ja: str = Field(min_length=1, max_length=2000)
    en: str | None = Field(default=None, max_length=2000)

    def text(self, lang: str = "ja") -> str:
        """The text in ``lang`` ("ja" or "en"), Japanese where English is missing."""
        return self.en if lang == "en" and self.en else self.ja


class Option(Strict):
    """One choice of a ``choice`` or ``multi_choice`` question."""

    value: str = Field(min_length=1, max_length=60, pattern=r"^[^\s].*$")
    label: Localized


class Question(Strict):
    """One question. Constraints by type (others must be left out):

    - ``text``/``long_text``: ``min_length``, ``max_length`` (characters), ``pattern`` (a regular
      expression the whole answer matches), ``pattern_message``;
    - ``number``: ``minimum``, ``maximum``, ``integer``;
    - ``date``/``birth_date``: ``min_date``, ``max_date`` (ISO dates); a birth date is never in the future;
    - ``choice``/``multi_choice``: ``options``; ``multi_choice`` also ``min_items``/``max_items``;
    - ``file``: ``accept`` (:data:`FILE_TYPES`), ``max_bytes`` (≤ :data:`MAX_FILE_BYTES`);
    - ``name``: ``kana`` (ask the フリガナ too, default true);
    - ``sex``: ``allow_unanswered`` (offer 回答しない);
    - ``group``: ``questions``, ``min_items``, ``max_items`` (≤ :data:`MAX_GROUP_ITEMS`), ``item_label``.
    """

    id: Id
    type: QuestionType
    label: Localized
    hint: Localized | None = None
    required: bool = True
    show_if: Any = None
    min_length: int | None = Field(default=None, ge=0, le=MAX_TEXT)
    max_length: int | None = Field(default=None, ge=1, le=MAX_TEXT)
    pattern: str | None = Field(default=None, max_length=300)
    pattern_message: Localized | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    min_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    max_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    options: tuple[Option, ...] = Field(default=(), max_length=MAX_OPTIONS)
    min_items: int | None = Field(default=None, ge=0, le=MAX_GROUP_ITEMS)
    max_items: int | None = Field(default=None, ge=1, le=MAX_GROUP_ITEMS)
    accept: tuple[Literal["application/pdf", "image/jpeg", "image/png", "image/heic"], ...] = ()
    max_bytes: int | None = Field(default=None, ge=1, le=MAX_FILE_BYTES)
    kana: bool = True
    allow_unanswered: bool = False
    questions: tuple[Question, ...] = ()
    item_label: Localized | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> Question:
        allowed = _CONSTRAINTS[self.type]
        for name in _ALL_CONSTRAINTS - allowed:
            if getattr(self, name) != Question.model_fields[name].default:
                raise ValueError(f"{name} does not apply to a {self.type} question")
        if self.type in ("choice", "multi_choice"):
            if len(self.options) < 2:
                raise ValueError("a choice question needs at least two options")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError("option values must differ")
        if self.type == "group":
            if not self.questions:
                raise ValueError("a group needs at least one question")
            if any(q.type == "group" for q in self.questions):
                raise ValueError("groups cannot be nested")
        if self.pattern is not None:
            patterns.compiled(self.pattern)  # ValueError: not one RE2 runs (no back-references, look-around)
        for low, high in (("min_length", "max_length"), ("minimum", "maximum"), ("min_items", "max_items"),
                          ("min_date", "max_date")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} is greater than {high}")
        return self


_ALL_CONSTRAINTS = frozenset({
    "min_length", "max_length", "pattern", "pattern_message", "minimum", "maximum", "integer", "min_date",
    "max_date", "options", "min_items", "max_items", "accept", "max_bytes", "kana", "allow_unanswered",
    "questions", "item_label",
})
_TEXT = frozenset({"min_length", "max_length", "pattern", "pattern_message"})
_CONSTRAINTS: dict[str, frozenset[str]] = {
    "text": _TEXT, "long_text": _TEXT,
    "number": frozenset({"minimum", "maximum", "integer"}),
    "date": frozenset({"min_date", "max_date"}), "birth_date": frozenset({"min_date", "max_date"}),
    "choice": frozenset({"options"}), "multi_choice": frozenset({"options", "min_items", "max_items"}),
    "yes_no": frozenset(), "email": frozenset(), "phone": frozenset(),
    "file": frozenset({"accept", "max_bytes"}),
    "name": frozenset({"kana"}), "address": frozenset(), "sex": frozenset({"allow_unanswered"}),
    "group": frozenset({"questions", "min_items", "max_items", "item_label"}),
}


class Route(Strict):
    """After its page: when ``when`` holds, go to page ``goto`` (later in the form)
    or to the end (``"end"``: check your answers)."""

    when: Any
    goto: str = Field(min_length=1, max_length=40)


class Page(Strict):
    """One page of questions, shown when ``show_if`` holds (always without one).
    An ``exit`` page holds no questions: reaching it ends the form without an
    application, its description saying why (GOV.UK Forms' exit pages, e.g. "the
    city cannot collect these; take them to …")."""

    id: Id
    title: Localized
    description: Localized | None = None
    show_if: Any = None
    questions: tuple[Question, ...] = ()
    routes: tuple[Route, ...] = Field(default=(), max_length=20)
    exit: bool = False

    @model_validator(mode="after")
    def _exit_or_questions(self) -> Page:
        if self.exit and (self.questions or self.routes):
            raise ValueError("an exit page holds no questions and no routes")
        if self.exit and self.description is None:
            raise ValueError("an exit page needs a description saying what to do instead")
        if not self.exit and not self.questions:
            raise ValueError("a page needs at least one question (or is an exit page)")
        return self


class Form(Strict):
    """A whole form document (one version's content)."""

    format: Literal[1] = 1
    title: Localized
    pages: tuple[Page, ...] = Field(min_length=1, max_length=MAX_PAGES)

    @model_validator(mode="after")
    def _sound(self) -> Form:
        seen: set[str] = set()
        page_index = {p.id: i for i, p in enumerate(self.pages)}
        if len(page_index) != len(self.pages):
            raise ValueError("page ids must differ")
        count = 0
        for i, page in enumerate(self.pages):
            _check_rule(page.show_if, seen, f"page {page.id}: show_if")
            for q in page.questions:
                count += 1 + len(q.questions)
                if q.id in seen:
                    raise ValueError(f"question id {q.id} is used twice")
                _check_rule(q.show_if, seen, f"question {q.id}: show_if")
                if q.type == "group":
                    inner: set[str] = set()
                    for sub in q.questions:
                        if sub.id in inner or sub.id in seen or sub.id == q.id:
                            raise ValueError(f"question id {sub.id} is used twice")
                        _check_rule(sub.show_if, seen | inner, f"question {q.id}.{sub.id}: show_if")
                        inner.add(sub.id)
                seen.add(q.id)
            for route in page.routes:
                _check_rule(route.when, seen, f"page {page.id}: route")
                if route.goto != "end" and page_index.get(route.goto, -1) <= i:
                    raise ValueError(f"page {page.id}: a route goes to {route.goto}, which is not a later page")
        if count > MAX_QUESTIONS:
            raise ValueError(f"a form holds at most {MAX_QUESTIONS} questions")
        return self

    def questions(self) -> Iterator[tuple[Page, Question]]:
        """Every top-level question with its page, in form order."""
        for page in self.pages:
            for q in page.questions:
                yield page, q

    def question(self, qid: str) -> Question | None:
        """The top-level question ``qid``, if any."""
        return next((q for _, q in self.questions() if q.id == qid), None)

    def page(self, pid: str) -> Page | None:
        """Page ``pid``, if any."""
        return next((p for p in self.pages if p.id == pid), None)


def _check_rule(rule: Any, known: set[str], where: str) -> None:
    if rule is None:
        return
    try:
        logic.check(rule, frozenset(known))
    except logic.LogicError as err:
        raise ValueError(f"{where}: {err}") from None


class FormError(ValueError):
    """A form document that cannot be used; ``problems`` lists each as
    ``(location, message)`` (location like ``pages.0.questions.2.options``)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {what}" if where else what for where, what in problems))
        self.problems = problems


def parse_form(document: Any) -> Form:
    """The :class:`Form` of a JSON document (already decoded). Raises
    :class:`FormError` listing every problem found (a shared form's import shows
    them all at once)."""
    try:
        return Form.model_validate(document)
    except ValidationError as err:
        raise FormError([(".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "))
                         for e in err.errors(include_url=False)]) from None
