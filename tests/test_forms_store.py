"""The online applications' store keeps the catalogue in memory (every citizen's request reads its
procedure and the published version) without ever serving it stale, and does its blocking work on
threads of its own (issue 14, point 6: the floor's latency must not suffer from citizens' traffic).
Real SQLite file; the statements sent are counted with SQLAlchemy's own events."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from online_forms.store import FormStore
from server.storage.database import make_engine, open_database


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[FormStore, list[str]]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'madoguchi.sqlite3'}"
    await (await open_database(url)).dispose()
    engine = make_engine(url, pool_size=2, max_overflow=0)
    sent: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement.split()[0].upper())

    forms = FormStore(engine, tmp_path, lambda: datetime.now(UTC))
    assert await forms.seed_demo() == 5
    try:
        yield forms, sent
    finally:
        forms.close()
        await engine.dispose()


async def test_the_catalogue_is_read_once_and_every_change_is_seen_at_once(
        store: tuple[FormStore, list[str]]) -> None:
    forms, sent = store
    procedure = await forms.procedure("inu-toroku")
    version = await forms.published(procedure.id)
    assert version is not None and version.number == 1
    sent.clear()
    for _ in range(3):   # what a citizen's request reads: no statement at all now
        assert (await forms.procedure("inu-toroku")).id == procedure.id
        assert (await forms.version(version.id)).number == 1
        assert (await forms.published(procedure.id)) == version
        assert [p.slug for p in await forms.procedures(states=("live",))][:1] == ["inu-toroku"]
    assert sent == ["SELECT"], sent   # the catalogue's list, once
    # A new version published is what the next read gives.
    assert (await forms.save_draft(procedure.id, version.form, "staff-1")).state == "draft"
    assert (await forms.request_publication(procedure.id, "staff-1")).state == "pending"   # what each returns is new
    assert (await forms.publish(procedure.id, 2, "boss-1")).state == "published"
    newest = await forms.published(procedure.id)
    assert newest is not None and newest.number == 2
    assert (await forms.version(version.id)).state == "retired"
    # Archived: gone from the live list at once; a renamed slug finds it, the old one does not.
    assert (await forms.set_state(procedure.id, "archived")).state == "archived"
    assert "inu-toroku" not in [p.slug for p in await forms.procedures(states=("live",))]
    renamed = procedure.fields.model_copy(update={"slug": "inu"})
    await forms.update_procedure(procedure.id, renamed)
    assert (await forms.procedure("inu")).id == procedure.id
    with pytest.raises(Exception, match="No such procedure"):
        await forms.procedure("inu-toroku")


async def test_a_read_that_overlaps_a_change_is_not_kept(store: tuple[FormStore, list[str]]) -> None:
    forms, _sent = store
    procedure = await forms.procedure("sodai-gomi")
    forms.catalogue.clear()
    generation = forms.catalogue.generation
    await forms.set_state(procedure.id, "archived")        # a change lands while a read is in flight
    forms.catalogue.keep(generation, "procedure", "sodai-gomi", procedure)   # …which then tries to keep the old row
    assert (await forms.procedure("sodai-gomi")).state == "archived"
    # A change that fails (a taken slug) still forgets what was kept.
    await forms.procedure("inu-toroku")
    with pytest.raises(Exception, match="taken"):
        await forms.update_procedure(procedure.id, procedure.fields.model_copy(update={"slug": "inu-toroku"}))
    assert forms.catalogue.entries == {}


async def test_blocking_work_runs_on_the_stores_own_threads(store: tuple[FormStore, list[str]], tmp_path: Path) -> None:
    forms, _sent = store
    names = {await forms.offload(lambda: threading.current_thread().name) for _ in range(6)}
    assert names and all(n.startswith("forms") for n in names)
    info = await forms.add_attachment("draft-1", "a.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n")
    assert forms.file_path(info.id).read_bytes() == b"%PDF-1.4\n%%EOF\n"
