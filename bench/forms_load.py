"""Online applications under load while the floor is watched: N citizens at once open a procedure,
fill its three pages (20 answers) with a ~1 MB attachment and send together (seed 002 3.2.2; issue 14,
point 7), while M floor screens are subscribed over /ws and a clerk's calls are timed to them.

Usage: python bench/forms_load.py --citizens 200 [--subscribers 100] [--calls 100] [--file-kb 1024]
       [--file pdf|jpeg] [--url URL]

The procedure is the bench's own (``bench-load``): three pages of twenty questions (氏名, 生年月日, 性別,
住所, 電話, メール, choices, numbers, dates, texts, yes/no) ending with a file question; it is imported
through the staff API as a shared form file and published by the admin, as a city would load another
city's form. Each citizen, on its own connection from its own loopback address (127.0.0.2, .3, …: no
per-address limit can merge them), GETs the procedure's form, starts a draft, saves page 1, page 2,
attaches the file (its real bytes: a JPEG photographed-document-sized, or a PDF), saves page 3 and
checks the answers; when every citizen has reached the check, all send at the same moment.

The floor: M WebSocket subscribers on ``office`` (the guidance display's topic; bench/push_latency.py's
light client process), and a clerk at counter 4 calling tickets one after another (a kiosk issues each
first; ``--gap-ms`` between calls): call-next sent → the last subscriber has it, timed ``--calls``
times on the quiet server, then for as long as the citizens' burst lasts. The server's peak RSS is
sampled throughout. Applications stored are counted through the staff API (each sent reference
found). Starts its own server on a free port unless given --url (then set MADOGUCHI_ADMIN_PASSWORD
and MADOGUCHI_KIOSK_TOKEN). Last line: ``citizens=N stored=… page_p99_ms=… submit_p99_ms=…
peak_rss_mb=… floor_push_p99_ms=… floor_push_quiet_p99_ms=… upload_p99_ms=… floor_calls=…
burst_s=…`` (``floor_push_p99_ms``: the calls sent during the burst; ``page_p99_ms``: the form's GET,
the draft's start, the three page saves and the check).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing as mp
import os
import queue
import random
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx

from bench._server import admin_headers, clerk_token, connect, percentile
from bench.push_latency import rss_sampler, subscriber_process

SLUG = "bench-load"
COUNTER = "4"


def _q(qid: str, qtype: str, ja: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"id": qid, "type": qtype, "label": {"ja": ja, "en": en}, **extra}


def _options(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": {"ja": v, "en": v}} for v in values]


#: The bench's procedure as a shared form file (online_forms/sharing.py): 3 pages, 20 questions.
SHARED: dict[str, Any] = {
    "madoguchi_form": 1,
    "procedure": {
        "slug": SLUG, "name": {"ja": "負荷試験用の申請", "en": "Load test application"},
        "description": {"ja": "ベンチマーク用の手続です。", "en": "A procedure for the benchmark."},
        "section": "市民課 証明係", "category": "certificates", "life_events": ["moving"],
        "keywords": [{"word": "負荷試験", "reading": "ふかしけん"}],
        "reference_pattern": "LOAD-{rand:8}", "retention_years": 1, "fee_yen": 0, "identity": "none",
    },
    "form": {
        "format": 1, "title": {"ja": "負荷試験用の申請書", "en": "Load test application"},
        "pages": [
            {"id": "applicant", "title": {"ja": "申請者", "en": "Applicant"}, "questions": [
                _q("name", "name", "氏名", "Name"),
                _q("birth_date", "birth_date", "生年月日", "Date of birth"),
                _q("sex", "sex", "性別", "Sex", allow_unanswered=True),
                _q("address", "address", "住所", "Address"),
                _q("phone", "phone", "電話番号", "Phone number"),
                _q("email", "email", "メールアドレス", "Email address"),
                _q("household", "number", "世帯の人数", "People in the household", integer=True, minimum=1,
                   maximum=20),
            ]},
            {"id": "request", "title": {"ja": "請求の内容", "en": "What is requested"}, "questions": [
                _q("kind", "choice", "証明書の種類", "Certificate", options=_options("copy", "extract", "entry")),
                _q("items", "multi_choice", "記載事項", "Items shown",
                   options=_options("relationship", "domicile", "my_number", "previous_address")),
                _q("copies", "number", "通数", "Copies", integer=True, minimum=1, maximum=10),
                _q("purpose", "text", "使いみち", "Purpose", max_length=100),
                _q("needed_by", "date", "必要な日", "Needed by"),
                _q("by_post", "yes_no", "郵送を希望しますか", "Send by post?"),
                _q("employer", "text", "提出先", "Submitted to", max_length=100),
                _q("relation", "choice", "続柄", "Relationship", options=_options("self", "spouse", "child")),
                _q("note", "long_text", "備考", "Notes", max_length=2000),
                _q("contact_time", "choice", "連絡のつく時間帯", "When to call",
                   options=_options("morning", "afternoon", "evening")),
            ]},
            {"id": "documents", "title": {"ja": "本人確認", "en": "Identity"}, "questions": [
                _q("id_kind", "choice", "本人確認書類", "Identity document",
                   options=_options("license", "passport", "mynumber_card")),
                _q("id_number", "text", "書類の記号番号（末尾4桁）", "Document number (last 4)", pattern=r"[0-9]{4}"),
                _q("id_copy", "file", "本人確認書類の写し", "Copy of the identity document",
                   accept=["image/jpeg", "application/pdf"], max_bytes=4 * 1024 * 1024),
            ]},
        ],
    },
}
PAGES = [p["id"] for p in SHARED["form"]["pages"]]


def answers(i: int) -> list[dict[str, Any]]:
    """Citizen ``i``'s answers, page by page (the file's id is added when it is attached)."""
    family, given = ["山田", "佐藤", "鈴木", "高橋", "田中"][i % 5], ["花子", "太郎", "一郎", "さくら"][i % 4]
    return [
        {"name": {"family": family, "given": given, "family_kana": "ヤマダ", "given_kana": "ﾊﾅｺ"},
         "birth_date": f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}", "sex": str(i % 3),
         "address": {"postal_code": "100-0001", "address": f"東京都千代田区千代田{1 + i % 9}-{1 + i % 30}",
                     "building": ""},
         "phone": f"090-{1000 + i % 9000:04d}-{5678:04d}", "email": f"citizen{i}@example.jp", "household": 1 + i % 6},
        {"kind": "copy", "items": ["relationship", "domicile"], "copies": str(1 + i % 3), "purpose": "勤務先に提出",
         "needed_by": "2030-04-01", "by_post": i % 2 == 0, "employer": "株式会社ベンチ", "relation": "self",
         "note": "平日の午前中に受け取りたいです。" * 3, "contact_time": "morning"},
        {"id_kind": "license", "id_number": f"{i % 10000:04d}"},
    ]


def document(kind: str, kb: int) -> tuple[bytes, str]:
    """A real attachment of about ``kb`` KiB: a JPEG of noise (it barely compresses, so the size is
    reached with a photo-like pixel count) or a PDF with such a JPEG on its page; with its name."""
    from PIL import Image

    rng = random.Random(14)
    side = max(16, int((kb * 1024 / 1.6) ** 0.5))
    data = b""
    for _ in range(8):   # a few rounds to land within ~3 % of the size asked
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80) if kind == "jpeg" else image.save(out, "PDF", resolution=150)
        data = out.getvalue()
        ratio = kb * 1024 / len(data)
        if abs(ratio - 1) < 0.03:
            break
        side = max(16, int(side * ratio ** 0.5))
    return data, ("免許証.jpg" if kind == "jpeg" else "免許証.pdf")


def citizens_process(url: str, count: int, attachment: bytes, file_name: str, bind: bool, think_s: float, go: Any,
                     out: mp.Queue[dict[str, Any]]) -> None:
    """``count`` citizens, each on its own aiohttp connection (from 127.0.0.2, .3, … when ``bind``);
    they start when ``go`` is set, each pausing ``think_s`` (± half, at random) before each page it
    saves, and send together once all have checked their answers. Puts one summary on ``out``:
    per-step latencies (seconds), the references sent, failures, and the burst's start and end
    (machine-wide monotonic clock)."""
    from urllib.parse import quote

    import aiohttp

    async def main() -> dict[str, Any]:
        pages: list[float] = []
        uploads: list[float] = []
        submits: list[float] = []
        references: list[str] = []
        failures: list[str] = []
        checked = [0]
        all_checked = asyncio.Event()

        async def timed(session: aiohttp.ClientSession, method: str, path: str, into: list[float],
                        expect: int, **kw: Any) -> Any:
            sent = time.perf_counter()
            async with session.request(method, url + path, **kw) as r:
                body = await r.json()
                into.append(time.perf_counter() - sent)
                if r.status != expect:
                    raise RuntimeError(f"{method} {path}: {r.status} {str(body)[:300]}")
                return body

        async def citizen(i: int) -> None:
            local = (f"127.0.{(i + 2) // 256}.{(i + 2) % 256}", 0) if bind else None
            connector = aiohttp.TCPConnector(limit=1, local_addr=local)
            timeout = aiohttp.ClientTimeout(total=300)
            done = False
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
                try:
                    await timed(s, "GET", f"/apply/api/procedures/{SLUG}", pages, 200)
                    draft = await timed(s, "POST", "/apply/api/drafts", pages, 201, json={"procedure": SLUG})
                    code = {"X-Draft-Code": draft["code"]}
                    given: dict[str, Any] = {}
                    mine = answers(i)
                    pace = random.Random(i)
                    for page, part in zip(PAGES, mine, strict=True):
                        if think_s:
                            await asyncio.sleep(think_s * pace.uniform(0.5, 1.5))
                        given |= part
                        if page == "documents":
                            attached = await timed(s, "POST", "/apply/api/draft/files?question=id_copy", uploads, 201,
                                                   data=attachment, headers={
                                                       **code, "Content-Type": "application/octet-stream",
                                                       "X-File-Name": quote(file_name)})
                            given["id_copy"] = {"id": attached["id"]}
                        await timed(s, "PUT", "/apply/api/draft", pages, 200, json={"answers": given, "page": page},
                                    headers=code)
                    review = await timed(s, "GET", "/apply/api/draft/review", pages, 200, headers=code)
                    if not review["ready"]:
                        raise RuntimeError(f"not ready: {review['errors']}")
                    checked[0] += 1
                    done = True
                    if checked[0] == count:
                        all_checked.set()
                    await all_checked.wait()
                    sent = await timed(s, "POST", "/apply/api/draft/submit", submits, 201,
                                       json={"version_id": review["version_id"]}, headers=code)
                    references.append(sent["reference"])
                except Exception as exc:  # counted and shown: the bench goes on
                    failures.append(f"citizen {i}: {type(exc).__name__}: {exc}"[:400])
                    if not done:
                        checked[0] += 1
                        if checked[0] == count:
                            all_checked.set()

        go.wait()
        start = time.monotonic()
        await asyncio.gather(*(citizen(i) for i in range(count)))
        return {"pages": pages, "uploads": uploads, "submits": submits, "references": references,
                "failures": failures, "start": start, "end": time.monotonic()}

    out.put(asyncio.run(main()))


def stored(client: httpx.Client, admin: dict[str, str], references: list[str]) -> int:
    """How many of ``references`` the staff's list of the bench procedure's applications holds."""
    found: set[str] = set()
    offset = 0
    while True:
        r = client.get("/api/forms/applications", params={"procedure": SLUG, "offset": offset}, headers=admin)
        r.raise_for_status()
        batch = r.json()["applications"]
        found |= {a["reference"] for a in batch}
        if len(batch) < 200:
            return len(found & set(references))
        offset += len(batch)


def bench_procedure(client: httpx.Client, admin: dict[str, str]) -> None:
    """Import the bench's shared form file and publish it (kept when a running server has it already)."""
    r = client.post("/api/forms/import", json={"file": SHARED}, headers=admin)
    if r.status_code == 409:
        return
    r.raise_for_status()
    client.post(f"/api/forms/procedures/{r.json()['id']}/draft/publish", json={"number": 1},
                headers=admin).raise_for_status()


def server_cpu(server: Any) -> float:
    """The CPU seconds the server process has used so far (``nan`` for a server not ours)."""
    import psutil

    if server.proc is None:
        return float("nan")
    times = psutil.Process(server.proc.pid).cpu_times()
    return float(times.user + times.system)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--citizens", type=int, default=200)
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("--calls", type=int, default=100, help="floor calls timed on the quiet server")
    p.add_argument("--gap-ms", type=float, default=20, help="pause between two floor calls")
    p.add_argument("--file-kb", type=int, default=1024, help="the attachment's size")
    p.add_argument("--file", choices=("jpeg", "pdf"), default="jpeg", help="the attachment's kind")
    p.add_argument("--think-ms", type=float, default=0,
                   help="each citizen's pause before each page (± half; default 0: all at once, back to back)")
    p.add_argument("--url")
    args = p.parse_args()
    attachment, file_name = document(args.file, args.file_kb)
    server = connect(args.url)
    stop, peak = threading.Event(), [0.0]
    if server.proc is not None:
        threading.Thread(target=rss_sampler, args=(server.proc.pid, stop, peak), daemon=True).start()
    ctx = mp.get_context("spawn")
    workers: list[Any] = []
    try:
        client = httpx.Client(base_url=server.url, timeout=60)
        admin = admin_headers(client)
        bench_procedure(client, admin)
        clerk = {"Authorization": f"Bearer {clerk_token(client, admin, 'bench-forms-clerk', COUNTER)}"}
        kiosk = {"Authorization": f"Bearer {server.kiosk}"}
        ready: mp.Queue[int] = ctx.Queue()
        pushed: mp.Queue[tuple[str, float]] = ctx.Queue()
        subscribers = ctx.Process(target=subscriber_process,
                                  args=(server.url.replace("http", "ws", 1) + "/ws", args.subscribers, ready, pushed,
                                        10**9), daemon=True)
        go = ctx.Event()
        results: mp.Queue[dict[str, Any]] = ctx.Queue()
        bind = urlsplit(server.url).hostname == "127.0.0.1"
        citizens = ctx.Process(target=citizens_process, args=(server.url, args.citizens, attachment, file_name, bind,
                                                              args.think_ms / 1000, go, results), daemon=True)
        workers = [subscribers, citizens]
        for w in workers:
            w.start()
        for _ in range(args.subscribers):
            ready.get(timeout=120)
        time.sleep(1.0)

        def call() -> tuple[float, float]:
            """One floor call: (sent at, latency in seconds to the last subscriber)."""
            client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk).raise_for_status()
            sent = time.monotonic()
            r = client.post(f"/api/counters/{COUNTER}/call-next", headers=clerk)
            r.raise_for_status()
            key, at = pushed.get(timeout=60)
            assert key == r.json()["ticket"]["id"], (key, r.json())
            client.post(f"/api/counters/{COUNTER}/finish", json={"handover": False}, headers=clerk).raise_for_status()
            time.sleep(args.gap_ms / 1000)
            return sent, at - sent

        quiet = [call()[1] for _ in range(args.calls)]
        cpu_before = server_cpu(server)
        go.set()
        busy: list[tuple[float, float]] = []
        outcome: dict[str, Any] | None = None
        while outcome is None:
            busy.append(call())
            try:
                outcome = results.get_nowait()
            except queue.Empty:  # the burst goes on
                if not citizens.is_alive():
                    outcome = results.get(timeout=10)   # raises queue.Empty if it died without a word
        cpu_s = server_cpu(server) - cpu_before
        during = [lat for sent, lat in busy if sent <= outcome["end"]]   # every call sent once the citizens began
        count = stored(client, admin, outcome["references"])
    finally:
        stop.set()
        for w in workers:
            if w.is_alive():
                w.terminate()
        server.stop()
    ms = 1000
    for failure in outcome["failures"][:5]:
        print(failure)
    print(f"failures={len(outcome['failures'])} page_p50_ms={percentile(outcome['pages'], 0.5) * ms:.1f} "
          f"upload_p50_ms={percentile(outcome['uploads'], 0.5) * ms:.1f} "
          f"submit_p50_ms={percentile(outcome['submits'], 0.5) * ms:.1f} "
          f"floor_push_p50_ms={percentile(during, 0.5) * ms:.2f} "
          f"floor_push_quiet_p50_ms={percentile(quiet, 0.5) * ms:.2f}"
          f" floor_push_max_ms={max(during or [0]) * ms:.1f} attachment_kb={len(attachment) / 1024:.0f}"
          f" server_cpu_s={cpu_s:.2f}")
    rss = f"{peak[0]:.1f}" if server.proc is not None else "nan"
    print(f"citizens={args.citizens} stored={count} page_p99_ms={percentile(outcome['pages'], 0.99) * ms:.1f} "
          f"submit_p99_ms={percentile(outcome['submits'], 0.99) * ms:.1f} peak_rss_mb={rss} "
          f"floor_push_p99_ms={percentile(during, 0.99) * ms:.2f} "
          f"floor_push_quiet_p99_ms={percentile(quiet, 0.99) * ms:.2f} "
          f"upload_p99_ms={percentile(outcome['uploads'], 0.99) * ms:.1f} floor_calls={len(during)} "
          f"burst_s={outcome['end'] - outcome['start']:.2f} think_ms={args.think_ms:g}")


if __name__ == "__main__":
    main()
