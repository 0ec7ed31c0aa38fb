"""Each setting declared once (STYLE.md 12): every ``MADOGUCHI_`` variable is a
field of a pydantic settings class and a row of the README's table, and no other
module reads the environment for one; the office file's defaults are the core's;
the office file is parsed once when the server starts."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from server import config
from server.app import create_app
from server.core.calendar import Hours, OfficeCalendar
from server.core.layout import Flow, Layout, Queue, Screens, Text
from server.settings import ReplaySettings, Settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "hardware", "stats")
#: The one module that reads MADOGUCHI_ variables (through pydantic-settings).
SETTINGS_MODULE = "server/settings.py"
#: stats/xlsx.py's MADOGUCHI_LIBXLSXWRITER goes away with the hand-written binding
#: (issue 12 point 5, done separately); drop this entry once that change is in.
PENDING_REMOVAL = {"stats/xlsx.py"}


def readme_table() -> dict[str, str]:
    """``{variable: default as written}`` from the README's settings table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(MADOGUCHI_[A-Z0-9_]+)` \|([^|]*)\|", section, re.MULTILINE)
    assert rows, "no settings table under ## Settings"
    return {name: default.strip().strip("`") for name, default in rows}


def declared() -> dict[str, FieldInfo]:
    """Every setting field, by its environment variable."""
    out: dict[str, FieldInfo] = {}
    for cls in (Settings, ReplaySettings):
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            out[f"{prefix}{name}".upper()] = field
    return out


def test_every_setting_is_in_the_readme_table_with_its_default_and_every_row_is_a_setting() -> None:
    table, fields = readme_table(), declared()
    assert set(fields) - set(table) == set(), "settings missing from the README table"
    assert set(table) - set(fields) == set(), "README rows that are no setting"
    for variable, field in fields.items():
        assert field.description, variable
        default = field.get_default()
        written = "" if default is None else str(default)
        assert table[variable] == written, f"{variable}: README says {table[variable]!r}, the code {written!r}"


def environment_readers(root: Path) -> dict[str, list[str]]:
    """``{module: [variables]}`` for modules that touch ``os.environ``/``os.getenv``
    and name a ``MADOGUCHI_`` variable."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            reads = any(
                (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"))
                or (isinstance(node, ast.Name) and node.id in ("environ", "getenv"))
                or (isinstance(node, ast.alias) and node.name in ("environ", "getenv"))
                for node in ast.walk(tree)
            )
            names = sorted({node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                            and isinstance(node.value, str) and node.value.startswith("MADOGUCHI_")})
            if reads and names:
                found[path.relative_to(root).as_posix()] = names
    return found


def test_no_module_but_the_settings_module_reads_madoguchi_variables_from_the_environment(tmp_path: Path) -> None:
    readers = environment_readers(ROOT)
    assert set(readers) - {SETTINGS_MODULE} - PENDING_REMOVAL == set(), readers
    # The check can fail: a module that reads one directly is found.
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "sneaky.py").write_text('import os\nFONT = os.environ.get("MADOGUCHI_TICKET_FONT")\n')
    (tmp_path / "server" / "fine.py").write_text('HELP = "set MADOGUCHI_TICKET_FONT"\n')
    for package in PACKAGES[1:]:
        (tmp_path / package).mkdir()
    assert environment_readers(tmp_path) == {"server/sneaky.py": ["MADOGUCHI_TICKET_FONT"]}


@pytest.mark.parametrize(("model", "core", "names"), [
    (config.ScreensModel, Screens, ["kiosk_return_s", "call_highlight_s", "recent_calls", "staff_rotate_s",
                                    "wait_alert_s"]),
    (config.OfficeModel, Layout, ["policy", "interleave_n", "priority_boost_s", "reinstate_window_s"]),
    (config.QueueModel, Queue, ["prefix", "number_range", "issuable", "handover_queue", "mean_service_s"]),
    (config.FlowModel, Flow, ["handover"]),
    (config.TextModel, Text, ["easy", "zh", "ko"]),
    (config.ExtraModel, Hours, ["queues", "note"]),
    (config.CalendarModel, OfficeCalendar, ["national_holidays"]),
])
def test_the_office_file_takes_its_defaults_from_the_core(
        model: type[BaseModel], core: type[Any], names: list[str]) -> None:
    for name in names:
        assert model.model_fields[name].get_default() == config.core_default(core, name), name


def test_an_office_file_without_optional_keys_builds_the_cores_defaults(tmp_path: Path) -> None:
    path = tmp_path / "office.toml"
    path.write_text("""
[office]
id = "t"
name = { ja = "テスト", en = "Test" }
[[flows]]
id = "f"
name = { ja = "受付", en = "Reception" }
colour = "#123456"
symbol = "●"
[[sections]]
id = "s"
name = { ja = "係", en = "Section" }
[[queues]]
id = "q"
name = { ja = "証明", en = "Certificates" }
flow = "f"
section = "s"
colour = "#123456"
symbol = "●"
[[counters]]
first = 1
section = "s"
queues = ["q"]
[calendar]
weekdays = { mon = ["08:30", "17:15"] }
""", encoding="utf-8")
    office = config.load_office(path)
    layout = office.layout
    assert layout.screens == Screens()
    defaults = Layout("t", layout.office_name, layout.flows, layout.sections, layout.queues, layout.counters)
    assert (layout.policy, layout.interleave_n, layout.priority_boost_s, layout.reinstate_window_s) == (
        defaults.policy, defaults.interleave_n, defaults.priority_boost_s, defaults.reinstate_window_s)
    queue = layout.queues["q"]
    plain = Queue("q", queue.name, "f", "s", "#123456", "●")
    assert queue == plain
    assert office.calendar.national_holidays == config.core_default(OfficeCalendar, "national_holidays")


def test_the_server_parses_the_office_file_once_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[Path] = []
    real = config._read

    def counting(path: Path | str) -> tuple[config.OfficeFile, str]:
        reads.append(Path(path))
        return real(path)

    monkeypatch.setattr(config, "_read", counting)
    create_app(Settings())
    assert reads == [config.DEMO_OFFICE]


def test_the_ticket_font_settings_reach_the_ticket_drawing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hardware.ticket import FONT_CANDIDATES, TicketFontMissing, TicketFonts, font_path

    mono = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
    monkeypatch.setenv("MADOGUCHI_TICKET_FONT", mono)
    monkeypatch.setenv("MADOGUCHI_TICKET_FONT_BOLD", str(tmp_path / "missing.ttf"))
    fonts = Settings().ticket_fonts()
    assert fonts == TicketFonts(mono, str(tmp_path / "missing.ttf"))
    assert font_path("regular", fonts) == mono
    # A named file that does not exist is an error naming the setting (the server warns at start).
    with pytest.raises(TicketFontMissing, match="MADOGUCHI_TICKET_FONT_BOLD"):
        font_path("bold", fonts)
    assert font_path("regular") in FONT_CANDIDATES["regular"]
