"""``madoguchi printer-agent``: prints a kiosk's tickets on a printer the server cannot reach itself.

Runs on the kiosk PC beside a USB receipt printer (the Linux ``usblp`` driver's
``/dev/usb/lp0``), or beside a network printer only that PC can reach. It is
paired once as a device of kind ``printer`` (``--pair CODE``; the token is kept
in ``--token-file``, mode 0600), then subscribes over ``/ws`` to its printer's
topic ``printer:<id>``. For every ``print_job`` it fetches the ESC/POS bytes,
writes them, and reports the result; the server retries failed jobs, so
nothing is lost while the agent or its link is down. It reconnects with
back-off (0.5 s doubling to 10 s).

Exit codes: 0 stopped by a signal, 2 bad arguments or pairing refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets
from websockets.asyncio.client import connect

from hardware.printer import Link, PrinterState, PrintFailed

log = logging.getLogger("madoguchi.agent")


class AgentError(Exception):
    """A setting or answer that stops the agent (exit code 2)."""


def link_from(target: str, timeout: float) -> Link:
    """``--to``: ``tcp://host:port`` or a device path (``/dev/usb/lp0``).
    Raises :class:`AgentError` for anything else."""
    if target.startswith("tcp://"):
        host, _, port = target[6:].rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise AgentError(f"--to {target!r}: use tcp://HOST:PORT, e.g. tcp://192.0.2.10:9100")
        return Link("tcp", host=host.strip("[]"), port=int(port), timeout=timeout)
    if "://" in target:
        raise AgentError(f"--to {target!r}: use tcp://HOST:PORT or a device path such as /dev/usb/lp0")
    return Link("file", path=target, timeout=timeout)


def pair(server: str, code: str, token_file: Path) -> str:
    """Trade a pairing code for a token and keep it in ``token_file`` (0600).
    Raises :class:`AgentError` when the server refuses."""
    r = httpx.post(f"{server}/api/devices/pair", json={"code": code, "kind": "printer"}, timeout=10)
    if r.status_code != 200:
        raise AgentError(f"pairing refused: {_message(r)}")
    token = str(r.json()["token"])
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def _message(r: httpx.Response) -> str:
    try:
        return str(r.json()["error"]["message"])
    except Exception:
        return f"HTTP {r.status_code}"


class Agent:
    """One agent: ``server`` base URL, bearer ``token``, and the :class:`Link` it prints on."""

    def __init__(self, server: str, token: str, link: Link) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.link = link
        self.http = httpx.AsyncClient(base_url=self.server, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.printer: str | None = None

    async def whoami(self) -> str:
        """This agent's printer id. Raises :class:`AgentError` when the
        token is refused or the device has no printer."""
        r = await self.http.get("/api/devices/me/printer")
        if r.status_code != 200:
            raise AgentError(f"the server refused this agent: {_message(r)}")
        printer = r.json()["printer"]
        if not printer:
            raise AgentError("this agent has no printer; set one with PUT /api/devices/{id}/printer")
        return str(printer)

    async def run(self) -> None:
        """Connect, print, reconnect, until cancelled."""
        delay = 0.5
        while True:
            try:
                self.printer = await self.whoami()
                await self._session()
                delay = 0.5
            except AgentError:
                raise
            except (TimeoutError, OSError, httpx.HTTPError, websockets.ConnectionClosed) as err:
                log.warning("server link lost (%s); retrying in %.1f s", err.__class__.__name__, delay)
            await asyncio.sleep(delay)
            delay = min(10.0, delay * 2)

    async def _session(self) -> None:
        ws_url = self.server.replace("http", "ws", 1) + "/ws"
        async with connect(ws_url, open_timeout=10, ping_interval=5, ping_timeout=10) as ws:
            await ws.send(orjson.dumps({"type": "auth", "id": 1, "token": self.token}).decode())
            await ws.send(orjson.dumps({"type": "subscribe", "id": 2, "topics": [f"printer:{self.printer}"]}).decode())
            async for raw in ws:
                msg = orjson.loads(raw)
                kind = msg.get("type")
                if kind == "error":
                    raise AgentError(f"the server refused: {msg['error']['message']}")
                if kind == "result" and msg.get("id") == 2:
                    # Report the printer's health only once the subscription stands: the report
                    # wakes the server's worker, which sends a waiting job to the agent at once,
                    # and before the subscription it would find no agent and back off.
                    await self._report(await asyncio.to_thread(self.link.status))
                    log.info("connected; printing for printer %s on %s", self.printer, self.link.describe())
                elif kind == "snapshot" and msg["data"].get("awaiting"):
                    await self._print(msg["data"]["awaiting"])
                elif kind == "print_job":
                    await self._print(msg["job"])

    async def _print(self, job: str) -> None:
        r = await self.http.get(f"/api/print-jobs/{job}/escpos")
        if r.status_code != 200:
            log.warning("job %s: %s", job, _message(r))
            return
        try:
            state = await asyncio.to_thread(self.link.send, r.content)
            ok, message = True, ""
        except PrintFailed as err:
            state, ok, message = err.state, False, str(err)
            log.warning("job %s failed: %s", job, err)
        result = {"ok": ok, "state": state.value, "message": message[:200]}
        await self.http.post(f"/api/print-jobs/{job}/result", json=result)

    async def _report(self, state: PrinterState) -> None:
        await self.http.post(f"/api/printers/{self.printer}/status", json={"state": state.value})


def add_parser(sub: Any) -> None:
    """The ``printer-agent`` sub-command's arguments."""
    a = sub.add_parser("printer-agent", help="print a kiosk's tickets on a USB (or local network) printer")
    a.add_argument("--server", required=True, help="server base URL, e.g. http://192.0.2.1:8000")
    a.add_argument("--to", required=True, help="the printer: a device path (/dev/usb/lp0) or tcp://HOST:PORT")
    a.add_argument("--pair", metavar="CODE", help="pair with a one-time code (POST /api/devices, kind printer) first")
    a.add_argument(
        "--token-file",
        type=Path,
        default=Path("printer-agent.token"),
        help="where the device token is kept (default ./printer-agent.token)",
    )
    a.add_argument("--timeout", type=float, default=5.0, help="printer timeout in seconds (default 5)")
    a.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the agent until SIGTERM or SIGINT (exit 0); 2 on a bad setting."""
    server = args.server.rstrip("/")
    try:
        link = link_from(args.to, args.timeout)
        if args.pair:
            token = pair(server, args.pair, args.token_file)
        elif args.token_file.is_file():
            token = args.token_file.read_text(encoding="utf-8").strip()
        else:
            raise AgentError(f"no token in {args.token_file}: pair first with --pair CODE")
    except (AgentError, httpx.HTTPError) as err:
        print(f"madoguchi printer-agent: error: {err}", file=sys.stderr)
        return 2

    async def run() -> int:
        agent = Agent(server, token, link)
        task = asyncio.ensure_future(agent.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            return 0
        except AgentError as err:
            print(f"madoguchi printer-agent: error: {err}", file=sys.stderr)
            return 2
        finally:
            with contextlib.suppress(Exception):
                await agent.http.aclose()
        return 0

    return asyncio.run(run())
