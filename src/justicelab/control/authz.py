"""Who may change what: admins everything, stewards what their departments own."""

from __future__ import annotations

from justicelab.control.errors import NotPermitted
from justicelab.control.models import Dataset, User


def require_active(user: User) -> None:
    """A disabled user can do nothing."""
    if user.disabled_at is not None:
        raise NotPermitted(f"user {user.username} is disabled (since {user.disabled_at:%Y-%m-%d})")


def is_admin(user: User) -> bool:
    return user.disabled_at is None and user.has_role("admin")


def is_steward_of(user: User, department: str) -> bool:
    """Stewards hold the ``steward`` role and are members of the department."""
    return user.disabled_at is None and user.has_role("steward") and department in user.department_codes


def require_admin(user: User, doing: str) -> None:
    require_active(user)
    if not is_admin(user):
        raise NotPermitted(f"{user.username} may not {doing}: only an admin may")


def require_steward(user: User, dataset: Dataset, doing: str) -> None:
    """Only a steward of the department that owns ``dataset`` (or an admin) may ``doing``."""
    require_active(user)
    owner = dataset.owner.code
    if is_admin(user) or is_steward_of(user, owner):
        return
    if user.has_role("steward"):
        mine = ", ".join(user.department_codes) or "no department"
        raise NotPermitted(f"{user.username} may not {doing}: {user.username} is a steward of {mine}, but "
                           f"{dataset.name} is owned by {owner}; only its stewards or an admin may")
    raise NotPermitted(f"{user.username} may not {doing}: only a steward of {owner} (which owns "
                       f"{dataset.name}) or an admin may")


def require_any_role(user: User, roles: tuple[str, ...], doing: str) -> None:
    require_active(user)
    if not any(user.has_role(r) for r in roles):
        raise NotPermitted(f"{user.username} may not {doing}: it needs one of the roles {', '.join(roles)}")
