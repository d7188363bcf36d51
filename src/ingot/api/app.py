"""The FastAPI application: Ironic's v1 API over Ingot's services."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingot.api import errors
from ingot.api.auth import AuthMiddleware
from ingot.api.context import VersionMiddleware
from ingot.api.routes import ROUTERS
from ingot.errors import IngotError
from ingot.services import Services


def create_app(services: Services) -> FastAPI:
    """Build the API app; the caller owns the services' lifecycle."""
    app = FastAPI(
        title="Ingot",
        description="Bare-metal provisioning, Ironic v1 API compatible.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(IngotError, errors.handle_ingot_error)
    app.add_exception_handler(StarletteHTTPException, errors.handle_http_error)
    app.add_exception_handler(RequestValidationError, errors.handle_validation_error)
    app.add_exception_handler(IntegrityError, errors.handle_integrity_error)
    app.add_exception_handler(Exception, errors.handle_unexpected)
    app.add_middleware(AuthMiddleware, settings=services.settings.api)
    app.add_middleware(VersionMiddleware)
    return app
