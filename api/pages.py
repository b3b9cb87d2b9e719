"""The planner pages (server-rendered, Jinja2)."""

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
