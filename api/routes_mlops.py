"""JSON endpoints for MLOps and data scientists: models, gates, alias history, promote, rollback, runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require
from api.views import jsonable, records
from store.users import User

__all__ = ["PromoteRequest", "RollbackRequest", "models_for", "promote_as", "router"]

router = APIRouter(prefix="/api", tags=["mlops"])


class PromoteRequest(BaseModel):
    """Move an alias onto a version when its gates pass (or forced, with a reason)."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=20, pattern=r"^[0-9]+$")
    to: Literal["staging", "champion"] = "champion"
    force: bool = False
    reason: str | None = Field(None, max_length=2000)


class RollbackRequest(BaseModel):
    """Move an alias back to the version its holder replaced."""

    model_config = ConfigDict(extra="forbid")
    alias: Literal["staging", "champion"] = "champion"
    reason: str | None = Field(None, max_length=2000)


def models_for(service: Any) -> dict[str, Any]:
    """Versions with aliases and gate results, and the alias history (`strata models`)."""
    from promotion.overview import models_overview

    versions, history = models_overview(service.ws, service.ref)
    return {
        "model": service.ref.model_name,
        "versions": records(versions),
        "alias_history": records(history),
    }


@router.get("/models")
def models(request: Request, _user: Annotated[User, Depends(require("read"))]) -> dict[str, Any]:
    """Every version of the registered model, its gates, and who moved which alias when."""
    return models_for(request.app.state.service)


def _move(move: Any) -> dict[str, Any]:
    out = {
        k: jsonable(getattr(move, k))
        for k in ("model_name", "alias", "from_version", "to_version", "event", "who", "why")
    }
    check = getattr(move, "check", None)
    if check is not None:
        out["gates"] = check.report.to_dict()
    return out


def promote_as(service: Any, body: PromoteRequest, user: User) -> dict[str, Any]:
    """Promote as `user` through the CLI's stage function (gates judged unless forced)."""
    from promotion.promote import promote

    if body.force and not (body.reason or "").strip():
        raise HTTPException(422, "force needs a reason: say why the gates are overridden")
    move = promote(
        service.ws,
        service.ref,
        body.version,
        body.to,
        service.gates,
        service.scoring,
        force=body.force,
        reason=body.reason,
        catalogue=None if body.force else service.catalogue,
        policy=None if body.force else service.policy,
        who=user.name,
    )
    return _move(move)


@router.post("/models/promote")
def promote(
    request: Request, body: PromoteRequest, user: Annotated[User, Depends(require("promote"))]
) -> dict[str, Any]:
    """Promote a version to staging or champion (mlops)."""
    return promote_as(request.app.state.service, body, user)


def rollback_as(service: Any, body: RollbackRequest, user: User) -> dict[str, Any]:
    """Roll an alias back as `user`."""
    from promotion.promote import rollback_alias

    return _move(rollback_alias(service.ws, service.ref, body.alias, body.reason, who=user.name))


@router.post("/models/rollback")
def rollback(
    request: Request, body: RollbackRequest, user: Annotated[User, Depends(require("rollback"))]
) -> dict[str, Any]:
    """Move champion (or staging) back to the version it replaced (mlops)."""
    return rollback_as(request.app.state.service, body, user)


@router.get("/runs")
def runs(
    request: Request,
    _user: Annotated[User, Depends(require("runs_read"))],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """Training runs, newest first, with their headline numbers (`strata runs list`)."""
    from training.tracking import list_runs

    service = request.app.state.service
    return {"runs": records(list_runs(service.ws, service.training.experiment, limit))}


@router.get("/runs/compare")
def compare(
    request: Request,
    _user: Annotated[User, Depends(require("runs_read"))],
    run: Annotated[list[str], Query(min_length=2, max_length=5, description="run ids or prefixes")],
) -> dict[str, Any]:
    """Data, params and metrics of runs side by side (`strata runs compare`)."""
    from training.tracking import compare_runs

    service = request.app.state.service
    tables = compare_runs(service.ws, service.training.experiment, run)
    return {name: jsonable(frame.to_dict()) for name, frame in tables.items()}
