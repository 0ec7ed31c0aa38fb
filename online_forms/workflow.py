"""The rules of an application's life and of a form's publication. Pure.

Application statuses (seed 002 2.1.2③; LoGoフォーム/Graffer's 差し戻し・却下・取下げ):

- ``received`` 受付 → ``in_progress`` 処理中 → ``completed`` 完了 or ``rejected`` 却下;
- ``returned`` 差し戻し (from received or in progress, with a message): the citizen
  corrects through their receipt link and resubmits → ``received`` again;
- ``withdrawn`` 取下げ by the citizen while not yet decided.

Completed, rejected and withdrawn are final. Form versions: ``draft`` →
``pending`` (approval asked) → ``published`` (frozen; the one citizens fill) →
``retired`` (a later version was published). A clerk drafts and asks; only a
supervisor or an admin publishes (issue 14, point 2: "publish only with a
supervisor's or admin's approval").
"""

from __future__ import annotations

from typing import Literal

from server.core.errors import DomainError

Status = Literal["received", "in_progress", "returned", "completed", "rejected", "withdrawn"]
STATUSES: dict[str, tuple[str, str]] = {
    "received": ("受付", "Received"),
    "in_progress": ("処理中", "In progress"),
    "returned": ("差し戻し", "Returned for correction"),
    "completed": ("完了", "Completed"),
    "rejected": ("却下", "Rejected"),
    "withdrawn": ("取下げ", "Withdrawn"),
}
FINAL = frozenset({"completed", "rejected", "withdrawn"})
#: Status changes staff may make: from → allowed targets.
STAFF_MOVES: dict[str, frozenset[str]] = {
    "received": frozenset({"in_progress", "returned", "completed", "rejected"}),
    "in_progress": frozenset({"received", "returned", "completed", "rejected"}),
    "returned": frozenset({"rejected"}),
}
Channel = Literal["online", "paper", "post", "phone", "counter"]
CHANNELS: dict[str, tuple[str, str]] = {
    "online": ("オンライン", "Online"),
    "paper": ("窓口（紙）", "Paper, at the counter"),
    "post": ("郵送", "By post"),
    "phone": ("電話", "By phone"),
    "counter": ("書かない窓口", "No-writing counter"),
}
VersionState = Literal["draft", "pending", "published", "retired"]


class WorkflowError(DomainError):
    """A change the rules do not allow; ``code`` for the API envelope, ``message``
    in Japanese then English."""


def staff_move(current: str, target: str, message: str | None) -> None:
    """Raise :class:`WorkflowError` unless staff may move an application from
    ``current`` to ``target``; a return for correction needs ``message`` (what to fix)."""
    if current in FINAL:
        raise WorkflowError("application_closed", f"この申請は「{STATUSES[current][0]}」で終了しています。 "
                                                  f"The application is {STATUSES[current][1].lower()} and closed.")
    if target not in STAFF_MOVES.get(current, frozenset()):
        to = STATUSES.get(target, (target, target))[0]
        raise WorkflowError("status_not_allowed", f"「{STATUSES[current][0]}」から「{to}」には変更できません。 "
                                                  f"An application cannot go from {current} to {target}.")
    if target == "returned" and not (message or "").strip():
        raise WorkflowError("message_required", "差し戻しには、直してほしい内容を書いてください。 "
                                                "Say what to correct when returning an application.")


def citizen_can_correct(current: str) -> None:
    """Raise :class:`WorkflowError` unless the citizen may resubmit (only when returned)."""
    if current != "returned":
        raise WorkflowError("not_returned", "この申請は差し戻されていないため、修正できません。 "
                                            "The application was not returned for correction.")


def citizen_can_withdraw(current: str) -> None:
    """Raise :class:`WorkflowError` unless the citizen may withdraw (not yet decided)."""
    if current in FINAL:
        raise WorkflowError("application_closed", f"この申請は「{STATUSES[current][0]}」で終了しています。 "
                                                  f"The application is {STATUSES[current][1].lower()} and closed.")


def may_edit(role: str, staff_sections: frozenset[str], procedure_section: str) -> bool:
    """Whether staff of ``role`` belonging to ``staff_sections`` may edit (and
    process the applications of) a procedure owned by ``procedure_section``:
    admins all; supervisors their sections' (all when they belong to none);
    clerks only their sections' (issue 14, point 2: "a section's staff edit their
    section's procedures")."""
    if role == "admin":
        return True
    if not staff_sections:
        return role == "supervisor"
    return procedure_section in staff_sections


def may_publish(role: str) -> bool:
    """Whether ``role`` may publish a version (approve): supervisors and admins."""
    return role in ("supervisor", "admin")
