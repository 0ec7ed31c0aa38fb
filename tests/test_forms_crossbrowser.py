"""A citizen's application in Chromium, Firefox ESR and WebKit, each from Debian's packages (issue 14,
section 3 "Real browsers"): search → fill with a condition and a file → save and resume → check → send →
receipt. The flow (``tests/browser/flows/apply.mjs``) is written once and run by each browser against its
own real server; the stored application is then checked against what the browser saw. axe-core runs in
every browser. Screenshots: ``test-artifacts/crossbrowser/<browser>-apply-*.png``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from .crossbrowser import BROWSERS, run_flow
from .serverkit import ServerProcess
from .test_forms_apply import jpeg


@pytest.mark.parametrize("browser", BROWSERS)
def test_a_citizen_applies_from_a_phone_in_every_browser(browser: str, tmp_path: Path) -> None:
    photo = tmp_path / "免許証.jpg"
    photo.write_bytes(jpeg((640, 400)))
    proc = ServerProcess(tmp_path / "data").start()
    try:
        run = run_flow(browser, proc.url, "apply", {"photo": str(photo)}, wait_ms=15_000)
    finally:
        proc.stop()
    print(f"{browser} {run.version}: {run.seconds:.1f} s (launch {run.launch_seconds:.1f} s), "
          f"viewports {run.values['viewports']}")
    assert set(run.axe) == {"apply portal", "apply page with a condition shown", "apply saved", "apply check",
                            "apply receipt"}
    run.assert_accessible()
    # What the server stored is what the browser showed: one application, the condition's answer, the photo.
    db = sqlite3.connect(tmp_path / "data" / "madoguchi.sqlite3")
    try:
        stored = db.execute("select answers, status, channel from applications").fetchall()
        owners = db.execute("select owner, media_type, size from attachments").fetchall()
        app_id = db.execute("select id from applications where reference = ?", (run.values["reference"],)).fetchone()
    finally:
        db.close()
    assert len(stored) == 1 and stored[0][1:] == ("received", "online")
    answers = orjson.loads(stored[0][0])
    assert answers["purpose"] == "other" and answers["purpose_other"] == "相続登記のため"
    assert answers["name"]["family_kana"] == "サトウ" and answers["copies"] == 2
    assert answers["id_copy"]["name"] == "免許証.jpg" and answers["id_copy"]["type"] == "image/jpeg"
    assert owners == [(app_id[0], "image/jpeg", photo.stat().st_size)]
    if browser != "webkit":
        assert run.script_errors == [], run.script_errors
