"""Who may do what: staff accounts, sessions, paired devices, rate limits.

- Staff sign in with a user name and password (argon2id hashes, argon2-cffi).
  Roles: ``admin`` (accounts, devices), ``supervisor`` (any counter, any
  ticket), ``clerk`` (only the counter they signed in to).
- Kiosks and displays are devices paired with a token an admin issues: an
  admin creates the device and gets a one-time pairing code; the device trades
  the code for its token. A kiosk may only issue tickets; a display may read
  the staff topic.
- Tokens are 256-bit random (``secrets``); only their SHA-256 is stored.
- Failed sign-ins are limited per user name and per address (``limits``).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from .errors import ApiError
from .storage import schema
from .storage.database import write_audit

ROLES = ("admin", "supervisor", "clerk")
DEVICE_KINDS = ("kiosk", "display", "printer")
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


class RateLimits:
    """Moving-window limits kept in memory (``limits`` package)."""

    def __init__(self, public_rate: str, login_rate: str, login_rate_address: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.public = parse(public_rate)
        self.login = parse(login_rate)
        self.login_address = parse(login_rate_address)

    def hit_public(self, address: str) -> bool:
        """Count one public request; false when over the limit."""
        return self._limiter.hit(self.public, "public", address)

    def login_blocked(self, username: str, address: str) -> bool:
        """Whether sign-in is blocked for this name or address now."""
        return not (self._limiter.test(self.login, "login-user", username)
                    and self._limiter.test(self.login_address, "login-addr", address))

    def login_failed(self, username: str, address: str) -> None:
        """Count one failed sign-in."""
        self._limiter.hit(self.login, "login-user", username)
        self._limiter.hit(self.login_address, "login-addr", address)


class Auth:
    """Accounts, sessions and devices in the database, with an in-memory cache
    of live tokens (this process is their only writer)."""

    def __init__(self, engine: AsyncEngine, session_ttl_s: int, pairing_ttl_s: int) -> None:
        self.engine = engine
        self.session_ttl_s = session_ttl_s
        self.pairing_ttl_s = pairing_ttl_s
        self._cache: dict[str, tuple[Principal, int]] = {}

    # ---------------------------------------------------------------- staff
    async def create_staff(
        self, username: str, password: str, role: str, display_name: str | None = None
    ) -> dict[str, Any]:
        """Create an account; raises :class:`ApiError` ``conflict`` when the name is taken."""
        if role not in ROLES:
            raise ApiError("invalid_request", f"role must be one of {', '.join(ROLES)}")
        hashed = await asyncio.to_thread(_hasher.hash, password)
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
                await self._audit(conn, "system", "staff.created", f"{username} ({role})")
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
        """Replace a password and end that person's sessions; ``not_found`` if no such account."""
        hashed = await asyncio.to_thread(_hasher.hash, password)
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

    async def login(self, username: str, password: str) -> tuple[str, Principal]:
        """Check a password and open a session: ``(token, principal)``.

        Raises :class:`ApiError` ``login_failed`` (same message whether the
        name or the password was wrong).
        """
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(schema.staff).where(schema.staff.c.username == username))).first()
        stored = row.password_hash if row is not None and row.active else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
            ok = row is not None and row.active
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None:
            raise ApiError("login_failed", "wrong user name or password")
        token = new_token()
        key = token_hash(token)
        principal = Principal("staff", row.id, row.role, row.display_name, None, None, key)
        async with self.engine.begin() as conn:
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
            await self._audit(conn, row.username, "staff.login", "")
        self._cache[key] = (principal, now_us() + self.session_ttl_s * 1_000_000)
        return token, principal

    async def logout(self, principal: Principal) -> None:
        """End a staff session."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(schema.sessions).where(schema.sessions.c.token_hash == principal.token_hash))
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
