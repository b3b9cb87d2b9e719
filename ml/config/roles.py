"""Frozen config of who may do what (configs/roles.yaml): the roles and each action's roles."""

from __future__ import annotations

from pydantic import Field, model_validator

from ml.config.base import Frozen

__all__ = ["ACTIONS", "ROLES", "RolesConfig"]

ROLES = ("planner", "approver", "mlops", "data_scientist", "admin")
# every action the service checks; the matrix must say who may do each
ACTIONS = (
    "read",
    "override_request",
    "override_approve",
    "promote",
    "rollback",
    "runs_read",
    "export",
)
_DEFAULT_MATRIX: dict[str, list[str]] = {
    "read": list(ROLES),
    "override_request": ["planner", "admin"],
    "override_approve": ["approver", "admin"],
    "promote": ["mlops", "admin"],
    "rollback": ["mlops", "admin"],
    "runs_read": ["data_scientist", "mlops", "admin"],
    "export": ["planner", "mlops", "admin"],
}


class RolesConfig(Frozen):
    """The roles a user can have and, per action, the roles allowed to do it."""

    roles: list[str] = Field(default_factory=lambda: list(ROLES), description="known roles")
    actions: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in _DEFAULT_MATRIX.items()},
        description="action -> roles allowed to do it",
    )

    @model_validator(mode="after")
    def _complete(self) -> RolesConfig:
        problems = []
        missing = [a for a in ACTIONS if a not in self.actions]
        if missing:
            problems.append(f"actions {', '.join(missing)} are not listed; list every action")
        unknown = [a for a in self.actions if a not in ACTIONS]
        if unknown:
            problems.append(
                f"unknown action(s) {', '.join(unknown)}; actions: {', '.join(ACTIONS)}"
            )
        for action, roles in self.actions.items():
            bad = [r for r in roles if r not in self.roles]
            if bad:
                problems.append(
                    f"action {action}: unknown role(s) {', '.join(bad)}; roles: "
                    f"{', '.join(self.roles)}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def allows(self, role: str, action: str) -> bool:
        """True when `role` may do `action`."""
        return role in self.actions.get(action, ())

    def allowed_roles(self, action: str) -> list[str]:
        """The roles that may do `action`."""
        return list(self.actions.get(action, ()))
