"""The project's own promises: the service unit verifies, every setting is documented."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "./dev test installs systemd for this"
    unit = (ROOT / "systemd" / "madoguchi.service").read_text()
    for setting in ("DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=madoguchi", "NoNewPrivileges=yes"):
        assert setting in unit
    # Verify as installed: ExecStart pointing at a real madoguchi executable.
    installed = Path(sys.executable).with_name("madoguchi")
    assert installed.exists()
    path = tmp_path / "madoguchi.service"
    path.write_text(unit.replace("/opt/madoguchi/.venv/bin/madoguchi", str(installed)))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "madoguchi.service" not in done.stderr, done.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(unit.replace("Type=exec", "Type=sometimes")
                      .replace("/opt/madoguchi/.venv/bin/madoguchi", str(installed)))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(broken)], capture_output=True, text=True)
    assert "Failed to parse service type" in done.stderr   # the check can fail


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert f"`MADOGUCHI_{name.upper()}`" in readme, name
        assert field.description, name


def test_the_readme_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line for line in quick.splitlines() if line.startswith("./")]
    assert commands == ["./dev serve", "./dev test"]
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


def test_every_error_code_is_documented_in_the_readme() -> None:
    from server.errors import CODES
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"`{code}`" in readme, code


def test_every_command_is_documented_in_the_readme() -> None:
    import argparse

    from server.cli import parser

    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    commands = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]

    def names(p: argparse.ArgumentParser, prefix: str) -> list[str]:
        found = []
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += names(sub, f"{prefix} {name}") or [f"{prefix} {name}"]
        return found

    every = names(parser(), "madoguchi")
    assert {"madoguchi db upgrade", "madoguchi admin reset-password", "madoguchi serve"} <= set(every)
    for command in every:
        assert f"`{command}" in commands, command
