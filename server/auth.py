"""Who may do what: staff accounts, sessions, paired devices, rate limits.

- Staff sign in with a user name and password (argon2id hashes, argon2-cffi).
  Roles: ``admin`` (accounts, devices), ``supervisor`` (any counter, any
  ticket), ``clerk`` (only the counter they signed in to).
- Kiosks and displays are devices paired with a token an admin issues: an
  admin creates the device and gets a one-time pairing code; the device trades
  the code for its token. A kiosk may only issue tickets; a display may read
  the staff topic. A ``backoffice`` device is a back-office system (a system
  account: seeds 000 8.9, 002 2.1.2(エ)) that pulls the online applications of
  the procedures in its scope (:mod:`online_forms.backoffice_api`).
- Tokens are 256-bit random (``secrets``); only their SHA-256 is stored.
- Passwords follow :mod:`server.passwords` (NIST SP 800-63B-4): checked when
  set, NFKC-normalised before hashing and verifying.
- Sign-in attempts are throttled (:class:`RateLimits`, ``limits`` moving
  windows): per user name *and* address with back-off in tiers, per address
  across users, and per user name across addresses, where only places that
  have been failing for that user are held back. Each attempt is checked and
  counted in one synchronous step before the password is verified.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItem, parse, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from . import passwords
from .errors import ApiError
from .storage import schema
from .storage.database import write_audit

ROLES = ("admin", "supervisor", "clerk")
DEVICE_KINDS = ("kiosk", "display", "printer", "backoffice")
_hasher = PasswordHasher()
#: A hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def new_token() -> str:
    """A fresh 256-bit URL-safe random token."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex of a token (what the database keeps)."""
    return hashlib.sha256(token.encode()).hexdigest()


def now_us() -> int:
    """Current UTC epoch microseconds."""
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: ``kind`` is ``staff``, ``device`` or ``anonymous``."""

    kind: str
    id: str | None = None
    role: str | None = None
    name: str | None = None
    counter: str | None = None
    device_kind: str | None = None
    token_hash: str | None = None

    @property
    def is_staff(self) -> bool:
        """Whether this is a signed-in staff member."""
        return self.kind == "staff"

    def may_read_staff_topic(self) -> bool:
        """Staff and paired displays see the staff topic."""
        return self.is_staff or (self.kind == "device" and self.device_kind == "display")


ANONYMOUS = Principal("anonymous")


def _verify(stored: str, password: str) -> bool:
    """Whether ``password`` matches the argon2 hash ``stored``."""
    try:
        return bool(_hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """A sign-in attempt let through :meth:`RateLimits.begin_login`, in flight until
    :meth:`RateLimits.end_login`."""

    username: str
    address: str


class RateLimits:
    """Moving-window limits kept in memory (``limits`` package).

    Sign-in (NIST SP 800-63B-4 3.2.2, rate limiting): failures are counted
    per (user name, address) against ``login_rate`` (tiers such as
    ``5/minute;10/10minutes;20/hour``: the wait grows as failures go on, and
    a success there clears them), per address against ``login_rate_address``
    (across users), and per user name against ``login_rate_user`` (across
    addresses). When a user name is over its limit, an address with no
    recent failure for it still gets one attempt at a time, so a stranger
    cannot lock the owner out from the owner's terminal. Attempts in flight
    count as failures until they end, so concurrent guesses never exceed a limit.
    """

    def __init__(self, public_rate: str, login_rate: str, login_rate_address: str,
                 login_rate_user: str = "100/hour", apply_rate: str = "300/minute",
                 apply_start_rate: str = "30/hour") -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.public = parse(public_rate)
        self.apply = parse(apply_rate)
        self.apply_start = parse(apply_start_rate)
        self.login = parse_many(login_rate)
        self.login_address = parse_many(login_rate_address)
        self.login_user = parse_many(login_rate_user)
        self._pending: Counter[tuple[str, ...]] = Counter()

    def hit_public(self, address: str) -> bool:
        """Count one public request; false when over the limit."""
        return self._limiter.hit(self.public, "public", address)

    def hit_apply_start(self, address: str) -> bool:
        """Count one application started (a new draft) from ``address``; false when over the limit."""
        return self._limiter.hit(self.apply_start, "apply-start", address)

    def hit_apply(self, address: str) -> bool:
        """Count one request to the citizens' application API; false when over the limit."""
        return self._limiter.hit(self.apply, "apply", address)

    def _wait(self, items: Sequence[RateLimitItem], *key: str) -> float | None:
        """Seconds until one more failure fits under every limit of ``items`` for ``key``
        (counting attempts in flight), or ``None`` when it fits now."""
        pending = self._pending[key]
        wait: float | None = None
        for item in items:
            stats = self._limiter.get_window_stats(item, *key)
            if stats.remaining - pending <= 0:
                until = stats.reset_time - time.time() if stats.remaining <= 0 else 1.0
                wait = max(wait or 0.0, until, 1.0)
        return wait

    def begin_login(self, username: str, address: str) -> LoginAttempt:
        """Check the limits and count the attempt as in flight, in one step
        (no ``await``: nothing else runs in between). Raises :class:`ApiError`
        ``rate_limited`` with ``retry_after_s`` when the attempt must wait."""
        pair = ("login-pair", username, address)
        waits = [self._wait(self.login, *pair), self._wait(self.login_address, "login-addr", address)]
        user_wait = self._wait(self.login_user, "login-user", username)
        fresh_place = self._pending[pair] == 0 and all(
            self._limiter.get_window_stats(item, *pair).remaining == item.amount for item in self.login)
        if not fresh_place:
            waits.append(user_wait)
        found = [w for w in waits if w is not None]
        if found:
            seconds = math.ceil(max(found))
            raise ApiError("rate_limited", f"サインインの試行が多すぎます。{seconds}秒後にもう一度お試しください。"
                           f" Too many sign-in attempts; try again in {seconds} s.", retry_after_s=seconds)
        for key in (pair, ("login-addr", address), ("login-user", username)):
            self._pending[key] += 1
        return LoginAttempt(username, address)

    def end_login(self, attempt: LoginAttempt, *, failed: bool | None) -> None:
        """End an attempt: ``failed=True`` counts a failure everywhere, ``False``
        (signed in) clears that place's failures for the user, ``None`` (the
        check could not be made, e.g. storage down) counts nothing."""
        pair = ("login-pair", attempt.username, attempt.address)
        groups = ((self.login, pair), (self.login_address, ("login-addr", attempt.address)),
                  (self.login_user, ("login-user", attempt.username)))
        for items, key in groups:
            self._pending[key] -= 1
            if self._pending[key] <= 0:
                del self._pending[key]
            if failed:
                for item in items:
                    self._limiter.hit(item, *key)
        if failed is False:
            for item in self.login:
                self._limiter.clear(item, *pair)


class Auth:
    """Accounts, sessions and devices in the database, with an in-memory cache
    of live tokens (this process is their only writer)."""

    def __init__(self, engine: AsyncEngine, session_ttl_s: int, pairing_ttl_s: int,
                 context_words: Sequence[str] = ()) -> None:
        self.engine = engine
        self.session_ttl_s = session_ttl_s
        self.pairing_ttl_s = pairing_ttl_s
        #: Words no password may contain besides the person's names (the office's names).
        self.context_words = tuple(context_words)
        self._cache: dict[str, tuple[Principal, int]] = {}

    def check_password(self, password: str, username: str, display_name: str | None) -> str:
        """The NFKC form of an acceptable new password for this person (:func:`server.passwords.check`);
        raises :class:`ApiError` ``invalid_request`` with the reason."""
        try:
            return passwords.check(password, (username, display_name, *self.context_words))
        except passwords.PasswordRejected as err:
            raise ApiError("invalid_request", str(err), [{"field": "password", "problem": err.reason}]) from None

    # ---------------------------------------------------------------- staff
    async def create_staff(
        self, username: str, password: str, role: str, display_name: str | None = None, *, actor: str = "system"
    ) -> dict[str, Any]:
        """Create an account; ``actor`` (who creates it: an admin's id, ``system`` at first start)
        goes to the audit row. Raises :class:`ApiError` ``invalid_request`` for a weak password
        or a display name with control characters, ``conflict`` when the name is taken."""
        if role not in ROLES:
            raise ApiError("invalid_request", f"role must be one of {', '.join(ROLES)}")
        if display_name is not None:
            try:
                passwords.check_display_name(display_name)
            except passwords.PasswordRejected as err:
                problem = [{"field": "display_name", "problem": err.reason}]
                raise ApiError("invalid_request", str(err), problem) from None
        normal = self.check_password(password, username, display_name)
        hashed = await asyncio.to_thread(_hasher.hash, normal)
        row = {
            "id": uuid.uuid4().hex,
            "username": username,
            "display_name": display_name or username,
            "role": role,
            "password_hash": hashed,
            "active": True,
            "created_at_us": now_us(),
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(schema.staff), row)
                await self._audit(conn, actor, "staff.created", f"{username} ({role})")
        except IntegrityError:
            raise ApiError("conflict", f"user name {username!r} is taken") from None
        return {k: row[k] for k in ("id", "username", "display_name", "role")}

    async def list_staff(self) -> list[dict[str, Any]]:
        """Every account (no hashes)."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        schema.staff.c.id,
                        schema.staff.c.username,
                        schema.staff.c.display_name,
                        schema.staff.c.role,
                        schema.staff.c.active,
                    ).order_by(schema.staff.c.username)
                )
            ).all()
        return [r._asdict() for r in rows]

    async def set_password(self, staff_id: str, password: str, actor: str) -> None:
        """Replace a password and end that person's sessions; ``not_found`` if no such account,
        ``invalid_request`` for a password :mod:`server.passwords` refuses."""
        async with self.engine.connect() as conn:
            who = (await conn.execute(select(schema.staff.c.username, schema.staff.c.display_name)
                                      .where(schema.staff.c.id == staff_id))).first()
        if who is None:
            raise ApiError("not_found", "no such account")
        normal = self.check_password(password, who.username, who.display_name)
        hashed = await asyncio.to_thread(_hasher.hash, normal)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(schema.staff).where(schema.staff.c.id == staff_id).values(password_hash=hashed)
            )
            if result.rowcount == 0:
                raise ApiError("not_found", "no such account")
            await conn.execute(delete(schema.sessions).where(schema.sessions.c.staff_id == staff_id))
            await self._audit(conn, actor, "staff.password_set", staff_id)
        self._cache = {k: v for k, v in self._cache.items() if v[0].id != staff_id}

    async def has_admin(self) -> bool:
        """Whether any active admin account exists."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(schema.staff.c.id).where(schema.staff.c.role == "admin").limit(1))
        return found is not None

    async def login(self, username: str, password: str, address: str = "?") -> tuple[str, Principal]:
        """Check a password and open a session: ``(token, principal)``.

        The password is verified in its NFKC form, then (hashes made before
        passwords were normalised) as typed; such a hash is renewed in NFKC.
        Raises :class:`ApiError` ``login_failed`` (same message whether the
        name or the password was wrong) after writing ``staff.login_failed``
        to the audit log (the user name only when it names an account, since
        people type passwords into the name field; never the password).
        """
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(schema.staff).where(schema.staff.c.username == username))).first()
        stored = row.password_hash if row is not None and row.active else _DUMMY_HASH
        normal = passwords.normalise(password)
        ok = await asyncio.to_thread(_verify, stored, normal)
        legacy = not ok and normal != password and await asyncio.to_thread(_verify, stored, password)
        if not (ok or legacy) or row is None or not row.active:
            async with self.engine.begin() as conn:
                await self._audit(conn, row.username if row is not None else "?", "staff.login_failed",
                                  f"from {address}" + ("" if row is not None else " (no such user name)"))
            raise ApiError("login_failed", "wrong user name or password")
        token = new_token()
        key = token_hash(token)
        principal = Principal("staff", row.id, row.role, row.display_name, None, None, key)
        renewed = await asyncio.to_thread(_hasher.hash, normal) if legacy else None
        async with self.engine.begin() as conn:
            if renewed is not None:
                await conn.execute(update(schema.staff).where(schema.staff.c.id == row.id)
                                   .values(password_hash=renewed))
            await conn.execute(
                insert(schema.sessions),
                {
                    "token_hash": principal.token_hash,
                    "staff_id": row.id,
                    "counter": None,
                    "created_at_us": now_us(),
                    "expires_at_us": now_us() + self.session_ttl_s * 1_000_000,
                },
            )
            await self._audit(conn, row.username, "staff.login", f"from {address}")
        self._cache[key] = (principal, now_us() + self.session_ttl_s * 1_000_000)
        return token, principal

    async def logout(self, principal: Principal) -> None:
        """End a staff session (``staff.logout`` in the audit log)."""
        async with self.engine.begin() as conn:
            username = await conn.scalar(select(schema.staff.c.username).where(schema.staff.c.id == principal.id))
            await conn.execute(delete(schema.sessions).where(schema.sessions.c.token_hash == principal.token_hash))
            await self._audit(conn, username or principal.id or "?", "staff.logout",
                              f"at counter {principal.counter}" if principal.counter else "")
        self._cache.pop(principal.token_hash or "", None)

    async def set_counter(self, principal: Principal, counter: str | None) -> Principal:
        """Record which counter a session is signed in to."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(schema.sessions)
                .where(schema.sessions.c.token_hash == principal.token_hash)
                .values(counter=counter)
            )
        updated = replace(principal, counter=counter)
        cached = self._cache.get(principal.token_hash or "")
        if cached is not None:
            self._cache[principal.token_hash or ""] = (updated, cached[1])
        return updated

    async def release_counters(self, holds: Callable[[str, str], bool], why: str) -> list[str]:
        """Clear every session's counter binding for which ``holds(counter, staff_id)``
        is false (the counter closed, e.g. by the day's close), each audited as
        ``staff.counter_released`` with ``why``; returns the counters released.

        Issue 13, point 3: at the day's close the counters are closed and their
        clerks signed out of them (their sessions stay, without a counter)."""
        released: list[str] = []
        async with self.engine.begin() as conn:
            rows = (await conn.execute(
                select(schema.sessions.c.token_hash, schema.sessions.c.counter, schema.staff.c.id,
                       schema.staff.c.username)
                .join(schema.staff, schema.staff.c.id == schema.sessions.c.staff_id)
                .where(schema.sessions.c.counter.is_not(None))
            )).all()
            for row in rows:
                if holds(row.counter, row.id):
                    continue
                await conn.execute(update(schema.sessions).where(schema.sessions.c.token_hash == row.token_hash)
                                   .values(counter=None))
                await self._audit(conn, row.username, "staff.counter_released", f"counter {row.counter}: {why}")
                cached = self._cache.get(row.token_hash)
                if cached is not None:
                    self._cache[row.token_hash] = (replace(cached[0], counter=None), cached[1])
                released.append(row.counter)
        return released

    # -------------------------------------------------------------- devices
    async def create_device(self, kind: str, name: str, actor: str) -> tuple[dict[str, Any], str]:
        """Register a device; returns ``(device, pairing_code)``. The code is
        shown once and is valid for ``pairing_ttl_s``."""
        if kind not in DEVICE_KINDS:
            raise ApiError("invalid_request", f"kind must be one of {', '.join(DEVICE_KINDS)}")
        code = new_token()
        row = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "name": name,
            "token_hash": None,
            "pairing_hash": token_hash(code),
            "pairing_expires_us": now_us() + self.pairing_ttl_s * 1_000_000,
            "revoked": False,
            "created_at_us": now_us(),
        }
        async with self.engine.begin() as conn:
            await conn.execute(insert(schema.devices), row)
            await self._audit(conn, actor, "device.created", f"{kind} {name}")
        return {"id": row["id"], "kind": kind, "name": name}, code

    async def pair(self, code: str, kind: str | None = None) -> tuple[str, dict[str, Any]]:
        """Trade a pairing code for the device token: ``(token, device)``.
        Raises ``forbidden`` for an unknown, used or expired code, or one for
        another ``kind`` of device (that code stays usable)."""
        token = new_token()
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(select(schema.devices).where(schema.devices.c.pairing_hash == token_hash(code)))
            ).first()
            if row is None or row.revoked or (row.pairing_expires_us or 0) < now_us():
                raise ApiError("forbidden", "this pairing code is not valid")
            if kind is not None and row.kind != kind:
                raise ApiError("forbidden", f"this pairing code is for a {row.kind}, not a {kind}")
            await conn.execute(
                update(schema.devices)
                .where(schema.devices.c.id == row.id)
                .values(token_hash=token_hash(token), pairing_hash=None, pairing_expires_us=None)
            )
            await self._audit(conn, f"device:{row.id}", "device.paired", row.name)
        self._cache = {k: v for k, v in self._cache.items() if v[0].id != row.id}
        return token, {"id": row.id, "kind": row.kind, "name": row.name}

    async def rekey_device(self, name: str, kind: str) -> str:
        """Create or re-key the device ``name`` and return a fresh token (demo set-up)."""
        token = new_token()
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(schema.devices.c.id).where(schema.devices.c.name == name))).first()
            if row is None:
                await conn.execute(
                    insert(schema.devices),
                    {
                        "id": uuid.uuid4().hex,
                        "kind": kind,
                        "name": name,
                        "token_hash": token_hash(token),
                        "revoked": False,
                        "created_at_us": now_us(),
                    },
                )
            else:
                await conn.execute(
                    update(schema.devices)
                    .where(schema.devices.c.id == row.id)
                    .values(token_hash=token_hash(token), revoked=False)
                )
        self._cache.clear()
        return token

    async def list_devices(self) -> list[dict[str, Any]]:
        """Every device with whether it is paired."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(schema.devices).order_by(schema.devices.c.created_at_us))).all()
        return [
            {"id": r.id, "kind": r.kind, "name": r.name, "paired": r.token_hash is not None, "revoked": r.revoked}
            for r in rows
        ]

    async def revoke_device(self, device_id: str, actor: str) -> None:
        """Revoke a device's token; ``not_found`` if no such device."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(schema.devices).where(schema.devices.c.id == device_id).values(revoked=True, token_hash=None)
            )
            if result.rowcount == 0:
                raise ApiError("not_found", "no such device")
            await self._audit(conn, actor, "device.revoked", device_id)
        self._cache = {k: v for k, v in self._cache.items() if v[0].id != device_id}

    # ------------------------------------------------------------ resolving
    async def resolve(self, token: str | None) -> Principal:
        """The principal holding ``token`` (anonymous for none or unknown)."""
        if not token or len(token) > 200:
            return ANONYMOUS
        key = token_hash(token)
        now = now_us()
        cached = self._cache.get(key)
        if cached is not None:
            if cached[1] > now:
                return cached[0]
            del self._cache[key]
        async with self.engine.connect() as conn:
            sess = (
                await conn.execute(
                    select(
                        schema.sessions.c.counter,
                        schema.sessions.c.expires_at_us,
                        schema.staff.c.id,
                        schema.staff.c.role,
                        schema.staff.c.display_name,
                    )
                    .join(schema.staff, schema.staff.c.id == schema.sessions.c.staff_id)
                    .where(
                        schema.sessions.c.token_hash == key,
                        schema.sessions.c.expires_at_us > now,
                        schema.staff.c.active.is_(True),
                    )
                )
            ).first()
            if sess is not None:
                principal = Principal("staff", sess.id, sess.role, sess.display_name, sess.counter, None, key)
                expires = sess.expires_at_us
            else:
                dev = (
                    await conn.execute(
                        select(schema.devices).where(
                            schema.devices.c.token_hash == key, schema.devices.c.revoked.is_(False)
                        )
                    )
                ).first()
                if dev is None:
                    return ANONYMOUS
                principal = Principal("device", dev.id, None, dev.name, None, dev.kind, key)
                expires = now + 3600 * 1_000_000
        self._cache[key] = (principal, expires)
        return principal

    async def _audit(self, conn: Any, actor: str, action: str, detail: str) -> None:
        await write_audit(conn, actor, action, detail, now_us())
