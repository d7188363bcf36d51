"""Ironic-shaped error bodies: ``{"error_message": "<JSON string with faultstring>"}``."""

from __future__ import annotations

import json
import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingot.errors import IngotError, NotAcceptable

LOG = logging.getLogger(__name__)


def error_body(status: int, message: str, faultcode: str = "Client") -> dict[str, str]:
    if status == 406:
        inner: dict[str, object] = {
            "code": 406,
            "title": "Not Acceptable",
            "description": message,
        }
    else:
        inner = {"faultcode": faultcode, "faultstring": message, "debuginfo": None}
    return {"error_message": json.dumps(inner)}


def error_response(exc: IngotError) -> JSONResponse:
    status = exc.status
    if isinstance(exc, NotAcceptable):
        status = 406
    return JSONResponse(error_body(status, exc.message, exc.faultcode), status_code=status)


async def handle_ingot_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IngotError)
    if exc.status >= 500:
        LOG.error("request failed: %s", exc.message)
    return error_response(exc)


async def handle_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = {
        404: "The resource could not be found.",
        405: "The method is not allowed for this resource.",
    }.get(exc.status_code, str(exc.detail))
    return JSONResponse(error_body(exc.status_code, message), status_code=exc.status_code)


async def handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")]
        problems.append(f"{'.'.join(loc) or 'request'}: {err.get('msg')}")
    return JSONResponse(error_body(400, "Invalid request: " + "; ".join(problems)), 400)


async def handle_integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    """A UNIQUE/foreign-key violation the route's own checks missed (e.g. two clients
    creating the same name at once): a 409 naming the constraint, not a 500."""
    assert isinstance(exc, IntegrityError)
    detail = str(exc.orig).splitlines()[0] if exc.orig is not None else "constraint violated"
    LOG.info("integrity conflict: %s", detail)
    return JSONResponse(
        error_body(409, f"The request conflicts with existing data ({detail}). Use another "
                   "value or remove the existing resource first."),
        status_code=409,
    )  # fmt: skip


async def handle_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    LOG.exception("unexpected error serving request")
    return JSONResponse(
        error_body(500, f"Internal error: {type(exc).__name__}. See the server log.", "Server"),
        status_code=500,
    )
