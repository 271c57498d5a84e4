"""HTTP layer of every Tirek service: application factory, problem details, health, metrics,
and the server (``tirek.web.server.serve``) with its limits on hostile clients."""

from tirek.web.app import create_service_app
from tirek.web.health import ReadinessCheck, database_check, nats_check
from tirek.web.idempotency import Idempotency
from tirek.web.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    problem_response,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Idempotency",
    "NotFound",
    "Problem",
    "ReadinessCheck",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
    "create_service_app",
    "database_check",
    "nats_check",
    "problem_response",
]
