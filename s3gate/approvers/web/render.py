"""Server-rendered pages: Jinja2 templates with autoescaping on for every
template (so a key name, a reason or a preview is text, never markup), and
the security headers of guard.py on every answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse, Response

from s3gate.approvers.web.guard import HEADERS

HERE = Path(__file__).resolve().parent
STYLE = (HERE / "static" / "style.css").read_bytes()

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,
    auto_reload=False,
)


def _age(moment: float, now: float) -> str:
    seconds = max(0, int(now - moment))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_env.filters["when"] = _when
_env.globals["age"] = _age


def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = _env.get_template(name).render(**values)
    return HTMLResponse(html, status, headers=dict(HEADERS))


def style() -> Response:
    headers: Mapping[str, str] = {**HEADERS, "Cache-Control": "public, max-age=3600"}
    return Response(STYLE, 200, headers=dict(headers), media_type="text/css")
