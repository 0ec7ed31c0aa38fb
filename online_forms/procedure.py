"""A procedure (手続): what a citizen can apply for, who owns it, how it is found,
and the rules its applications follow. One catalogue serves every door (the
citizen at home, the clerk entering a paper application, the counter).

Sources: seed 000 8.1 and 002 2.1.2 (procedures found by keyword, category and
life event), seed 003 (related procedures by life event), issue 14 point 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import reference
from .form import Localized
from .kana import search_key

#: Life events (ライフイベント) a procedure belongs to: code → (Japanese, English).
LIFE_EVENTS: dict[str, tuple[str, str]] = {
    "moving": ("引越し", "Moving house"),
    "birth": ("出生", "Birth"),
    "marriage": ("結婚", "Marriage"),
    "divorce": ("離婚", "Divorce"),
    "death": ("おくやみ", "Bereavement"),
    "childcare": ("子育て", "Raising children"),
    "care": ("介護", "Long-term care"),
    "employment": ("就職・退職", "Starting or leaving a job"),
    "pets": ("ペット", "Pets"),
    "housing": ("住まい・ごみ", "Home and waste"),
}
#: Categories (分類): code → (Japanese, English).
CATEGORIES: dict[str, tuple[str, str]] = {
    "certificates": ("証明書", "Certificates"),
    "registration": ("届出", "Notifications"),
    "children": ("子育て・教育", "Children and education"),
    "welfare": ("福祉・介護", "Welfare and care"),
    "health": ("健康・保険・年金", "Health, insurance and pensions"),
    "tax": ("税", "Tax"),
    "environment": ("環境・ごみ", "Environment and waste"),
    "animals": ("動物", "Animals"),
    "other": ("その他", "Other"),
}
State = Literal["draft", "live", "archived"]
#: Identity a procedure requires (checked by the identity issue): none, a verified
#: email address, or the My Number Card (デジタル認証アプリ, OpenID Connect).
Identity = Literal["none", "email", "my_number_card"]
LifeEvent = Literal["moving", "birth", "marriage", "divorce", "death", "childcare", "care", "employment", "pets",
                    "housing"]
Category = Literal["certificates", "registration", "children", "welfare", "health", "tax", "environment", "animals",
                   "other"]


class Keyword(BaseModel):
    """A search word and its reading in kana (e.g. 住民票 / じゅうみんひょう)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    word: str = Field(min_length=1, max_length=40)
    reading: str = Field(default="", max_length=80)


class ProcedureDraft(BaseModel):
    """A procedure's editable fields, as staff send them (the id and state are the
    store's). ``retention_years`` ≤ 5 (seed 002: applications kept up to five
    years); ``fee_yen`` the fee to pay online (0: none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    slug: str = Field(pattern=r"^[a-z][a-z0-9-]{1,39}$", description="short name used in addresses (/apply/<slug>)")
    name: Localized
    description: Localized
    section: str = Field(min_length=1, max_length=60, description="owning section (係), e.g. 市民課 住民記録係")
    category: Category
    life_events: tuple[LifeEvent, ...] = Field(default=(), max_length=len(LIFE_EVENTS),
                                               json_schema_extra={"uniqueItems": True})
    keywords: tuple[Keyword, ...] = Field(default=(), max_length=40)
    reference_pattern: str = Field(default=reference.DEFAULT, pattern=r"^[A-Z0-9\-_/{}:a-z]{1,60}$",
                                   description="fixed text and {yyyy} {yy} {mm} {dd} {seq:N} {rand:N}; needs {seq:N} "
                                               "or at least 6 random characters (else 422)")
    retention_years: int = Field(default=5, ge=1, le=5, strict=True)
    fee_yen: int = Field(default=0, ge=0, le=1_000_000, strict=True)
    identity: Identity = "none"

    @field_validator("reference_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        reference.check_pattern(value)
        return value

    @field_validator("life_events")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("life events must differ")
        return value


def search_text(p: ProcedureDraft) -> str:
    """What a catalogue search matches against: names, description, section and
    keywords with their readings, folded by :func:`online_forms.kana.search_key`."""
    parts: Iterable[str] = (
        p.name.ja, p.name.en or "", p.description.ja, p.description.en or "", p.section,
        *(k.word for k in p.keywords), *(k.reading for k in p.keywords),
    )
    return "\n".join(search_key(x) for x in parts if x)


def matches(p: ProcedureDraft, query: str) -> bool:
    """Whether every word of ``query`` (split on spaces, kana- and width-insensitive)
    is found in the procedure's :func:`search_text`."""
    text = search_text(p)
    words = [search_key(w) for w in query.replace("\u3000", " ").split()]
    return all(w in text for w in words if w)
