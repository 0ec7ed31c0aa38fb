"""The office file: validated on load with clear errors; the CLI's exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.config import DEMO_OFFICE, ConfigError, load

DEMO = DEMO_OFFICE.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "office.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_office_is_bunkyos_floor():
    layout, calendar = load(DEMO_OFFICE)
    by_section: dict[str, int] = {}
    for counter in layout.counters.values():
        by_section[counter.section] = by_section.get(counter.section, 0) + 1
    assert by_section == {"koseki": 3, "shomei": 6, "juki": 14, "service": 2}
    assert [f.name.ja for f in layout.flows.values()] == ["戸籍届出と証明発行の受付", "住民異動の受付", "証明の交付"]
    assert all(f.symbol and f.colour for f in layout.flows.values())
    assert layout.queues["shomei"].handover_queue == "kofu"
    assert calendar.enforce
    # The kiosk's five languages, the screens' timings and the two kiosks of seed 004 8(1).
    assert layout.queues["idou"].name.as_dict().keys() == {"ja", "en", "easy", "zh", "ko"}
    assert layout.screens.staff_rotate_s == 12 and layout.screens.kiosk_return_s == 10
    assert {k: m.queues for k, m in layout.kiosk_menus.items()} == {
        "koseki_shomei": ("shomei", "koseki"), "idou": ("idou", "inkan", "mynumber")}


@pytest.mark.parametrize("old, new, message", [
    ('policy = "oldest"', 'policy = "random"', "office.policy"),
    ('symbol = "●"\n\n[[flows]]', 'symbol = ""\n\n[[flows]]', "flows[0].symbol"),
    ('number_range = [1, 1999]', 'number_range = [1999, 1]', "queues[0].number_range: Value error, first must not exceed last"),
    ('number_range = [2001, 2999]', 'number_range = [1500, 2999]', "same prefix and overlapping number ranges"),
    ('handover_queue = "kofu"', 'handover_queue = "nowhere"', "queues[0].handover_queue: no queue 'nowhere'"),
    ('queues = ["kofu"]', 'queues = ["kofu", "ghost"]', "counters[3].queues: no queue 'ghost'"),
    ('first = 24', 'first = 23', "counter 23 is defined twice"),
    ('mon = ["08:30", "17:15"]', 'mon = ["17:15", "08:30"]', "calendar.weekdays.mon: opening 17:15 is not before closing 08:30"),
    ('mon = ["08:30", "17:15"]', 'mon = ["8h30", "17:15"]', "calendar.weekdays.mon: '8h30' is not a time"),
    ('nth = 2', 'nth = 0', "calendar.extra[0].nth"),
    ('[office]', '[office]\ncolour = "red"', "office.colour: Extra inputs are not permitted"),
    ('[office]', '[office', "not valid TOML"),
    ('certificates" }\nqueues = ["shomei", "koseki"]', 'certificates" }\nqueues = ["shomei", "ghost"]', "kiosk_menus[0].queues: no queue 'ghost'"),
    ('certificates" }\nqueues = ["shomei", "koseki"]', 'certificates" }\nqueues = ["kofu"]', "kiosk_menus[0].queues: queue 'kofu' does not issue tickets"),
    ('staff_rotate_s = 12', 'staff_rotate_s = 0', "screens.staff_rotate_s"),
    ('id = "idou"\nname = { ja = "住民異動",', 'id = "koseki_shomei"\nname = { ja = "住民異動",', "kiosk_menus[1].id: 'koseki_shomei' appears twice"),
])
def test_a_bad_office_file_names_the_file_the_key_and_the_problem(tmp_path, old, new, message):
    assert old in DEMO
    path = write(tmp_path, DEMO.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).startswith("office.toml: ")
    assert message in str(err.value)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=60)


def test_check_config_and_serve_exit_2_on_a_bad_file(tmp_path):
    ok = cli("check-config", str(DEMO_OFFICE))
    assert ok.returncode == 0 and "25 counters" in ok.stdout
    bad = write(tmp_path, DEMO.replace('policy = "oldest"', 'policy = "random"'))
    done = cli("check-config", str(bad))
    assert done.returncode == 2 and "office.toml: office.policy" in done.stderr
    done = cli("serve", "--config", str(bad), "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "office.policy" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("serve", "--config", str(tmp_path / "missing.toml"), "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "file not found" in done.stderr
    done = cli("serve", "--port", "99999")
    assert done.returncode == 2


def test_a_real_config_enforces_the_calendar(tmp_path):
    from datetime import datetime

    from server.core.calendar import TOKYO
    _, calendar = load(write(tmp_path, DEMO))
    assert calendar.opening_at(datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)) is None
    _, rehearsal = load(write(tmp_path, DEMO), rehearsal=True)
    assert rehearsal.opening_at(datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)) is not None
