"""``schemathesis run --checks all`` over ``/api/openapi.json`` on a real server, anonymously
and as a kiosk, a clerk at a counter and an admin (bearer tokens): the document says what the
server does (statuses, bodies, content types, headers such as ``Allow`` on a 405), valid
requests are accepted and invalid ones refused, and nothing answers 5xx.

Bounded (``EXAMPLES`` test cases per operation and phase, :data:`PHASES`) and seeded, so a run
takes a minute or two on a quiet machine; the counts (operations, test cases, failures) are printed
for the closing note. The runs change the server's data (tickets, accounts, devices): the server
is private to this module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .serverkit import ADMIN_PASSWORD, ServerProcess

EXAMPLES = 8
SEED = 20240613
CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # The citizens' API is limited per address (MADOGUCHI_APPLY_RATE); every fuzzed request comes from one.
    proc = ServerProcess(tmp_path_factory.mktemp("schemathesis"),
                         env={"MADOGUCHI_APPLY_RATE": "100000/minute"}).start()
    yield proc
    proc.stop()


def tokens(server: ServerProcess) -> dict[str, str | None]:
    """Bearer tokens of each identity, made before any run (the runs' failed sign-ins
    would otherwise rate-limit these)."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        admin = c.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
        password = "clerk-password-for-schemathesis"
        r = c.post("/api/staff", json={"username": "st-clerk", "password": password, "role": "clerk"},
                   headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 201, r.text
        clerk = c.post("/api/auth/login", json={"username": "st-clerk", "password": password}).json()["token"]
        r = c.post("/api/counters/1/sign-in", headers={"Authorization": f"Bearer {clerk}"})
        assert r.status_code == 200, r.text
    return {"anonymous": None, "kiosk": server.kiosk, "clerk": clerk, "admin": admin}


#: Phases per identity. The coverage phase (boundary and negative values of every field, ~900
#: cases whatever the examples) runs anonymously and as the admin, who passes every access rule
#: but the printer agent's; the kiosk and the clerk add what their access changes, by fuzzing.
PHASES = {"anonymous": "coverage,fuzzing,stateful", "kiosk": "fuzzing,stateful", "clerk": "fuzzing,stateful",
          "admin": "coverage,fuzzing,stateful"}


def run(server: ServerProcess, token: str | None, phases: str, report: Path) -> tuple[dict[str, Any], str]:
    """One ``st run``; its JSON report and its output."""
    command = [str(ST), "--config-file", str(CONFIG), "run", f"{server.url}/api/openapi.json",
               "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "1",
               "--phases", phases, "--no-color", "--report", "json", "--report-json-path", str(report)]
    if token is not None:
        # Signing out would end the identity mid-run; the anonymous run covers the operation.
        command += ["--header", f"Authorization: Bearer {token}", "--exclude-operation-id", "logout"]
    # In the report's folder: st keeps a cache (.schemathesis/) in its working directory.
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=report.parent)
    assert report.exists(), done.stdout + done.stderr
    result: dict[str, Any] = json.loads(report.read_text())
    return result, done.stdout + done.stderr


def test_schemathesis_finds_nothing_anonymous_or_signed_in(fuzzed: ServerProcess, tmp_path: Path) -> None:
    identities = tokens(fuzzed)
    totals = {"operations": 0, "test_cases": 0, "failures": 0, "errors": 0}
    problems = []
    for name, token in identities.items():
        result, output = run(fuzzed, token, PHASES[name], tmp_path / f"{name}.json")
        counts = {"operations": result["operations"]["tested"], "test_cases": result["test_cases"]["generated"],
                  "failures": len(result["failures"]), "errors": len(result["errors"])}
        print(f"schemathesis {name}: {counts['operations']} operations, {counts['test_cases']} test cases, "
              f"{counts['failures']} failures, {counts['errors']} errors ({result['running_time']:.0f} s)")
        for key in totals:
            totals[key] += counts[key]
        assert result["operations"]["tested"] == result["operations"]["selected"] > 40, result["operations"]
        if counts["failures"] or counts["errors"] or result["exit_code"] != 0:
            problems.append(f"--- {name} ---\n{output[-12000:]}")
            # In full (the assertion below is shortened by pytest): each failure with its curl command.
            print(output.split("=== FAILURES ===", 1)[-1].split("=== SUMMARY ===", 1)[0][:40000])
    print(f"schemathesis total: {totals['operations']} operations over 4 identities, {totals['test_cases']} test "
          f"cases, {totals['failures']} failures, {totals['errors']} errors (seed {SEED}, {EXAMPLES} examples)")
    assert not problems, "\n".join(problems)
