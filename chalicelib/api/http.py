"""What every route shares: JSON in and out, problem+json errors, the body limit (the member
routes' caller: api/routes/members.py `member_route`).

Errors become answers in one place, `error_response`: a domain error is answered as its problem
(api/problems.py), a transient storage failure as 503 temporarily_unavailable (which failures
are transient: usecases/failures.py, since the HTTP layer does not know the store), anything
else is logged and answered with a generic 500 that leaks nothing. Routes answer through it
(`ApiBlueprint`), and so does the app middleware for whatever escapes them."""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, ChaliceError, CORSConfig, HeadersType, Request, Response

from ..domain.errors import (
    FieldError,
    HuiyuanError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from ..observability import logger, metrics
from ..settings import get_settings
from ..usecases.edge import distribution_secret
from ..usecases.failures import domain_error_for
from .caller_address import caller_address
from .formats import is_json_media_type, path_identifier
from .problems import PROBLEM_JSON, problem

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from ..usecases.common import Answer

JSON = "application/json; charset=utf-8"


def cors_config() -> CORSConfig | None:
    """CORS for the web frontends of this stage (Chalice answers the preflights)."""
    origin = get_settings().cors_allow_origin
    if not origin:
        return None
    return CORSConfig(
        allow_origin=origin,
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Api-Key"],
        expose_headers=["Retry-After"],
        max_age=600,
    )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    all_headers: HeadersType = {"Content-Type": JSON, "Cache-Control": "no-store", **(headers or {})}
    return Response(body=json.dumps(body, ensure_ascii=False, separators=(",", ":")), status_code=status, headers=all_headers)


REPLAYED_HEADER = "Idempotent-Replayed"


def answer_response(answer: Answer) -> Response:
    """A use case's answer to a write; a replay says so (openapi.yaml, "Idempotent writes")."""
    return json_response(answer.body, status=answer.status, headers={REPLAYED_HEADER: "true"} if answer.replayed else None)


def problem_response(error: HuiyuanError) -> Response:
    status, headers, body = problem(error)
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status, headers=dict(headers))


def error_response(exc: Exception, request: Request | None) -> Response:
    """The one place an exception becomes an answer (call it from an `except` block): a domain
    error as its problem, a transient storage failure as 503 temporarily_unavailable, anything
    else logged (with the route's path) and answered as a generic 500."""
    error = domain_error_for(exc)
    if error is None:
        path = request.context.get("resourcePath") if request is not None else None
        logger.exception("unhandled error", extra={"path": path})
        error = InternalError("An internal error occurred")
    elif error is not exc:
        logger.warning("transient storage error", extra={"error": type(exc).__name__})
    return problem_response(error)


class ApiBlueprint(Blueprint):
    """A Blueprint whose routes answer every error through `error_response`.

    `route` takes Chalice's options, and `answer_headers`: headers every answer of the route
    carries, errors included (the operator routes' local-stage mark)."""

    def route(self, path: str, **kwargs: Any) -> Callable[..., Any]:
        answer_headers: Mapping[str, str] = kwargs.pop("answer_headers", None) or {}
        register = super().route(path, **kwargs)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def guarded(*args: Any, **kw: Any) -> Any:
                try:
                    response = view(*args, **kw)
                except ChaliceError:
                    raise  # Chalice's own (a view error it answers itself): the middleware converts it
                except Exception as exc:
                    response = error_response(exc, self.current_request)
                if answer_headers and isinstance(response, Response):
                    response.headers.update(answer_headers)
                return response

            registered: Callable[..., Any] = register(guarded)
            return registered

        return decorator


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        message = err["msg"]
        if err["type"] == "json_invalid":
            loc, message = "body", "not valid JSON"
        errors.append(FieldError(loc, message))
    return errors


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValidationFailed.single(key, "is given more than once")
        seen[key] = value
    return seen


def parse_body[M: BaseModel](request: Request, model: type[M]) -> M:
    """The body as `model`: JSON only (a stated JSON Content-Type; a body sent without one, as a
    browser's no-cors request is, is refused), each key once, then pydantic's strict validation."""
    if not is_json_media_type(request.headers.get("content-type")):
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json")
    raw = request.raw_body or b""
    if not raw.strip():
        raise ValidationFailed.single("body", "a JSON object is required")
    # Only to find keys given twice (pydantic keeps the last): "amount": 1, "amount": 1000000.
    # Not JSON at all: pydantic says so below, with its position.
    with contextlib.suppress(ValueError, RecursionError):
        json.loads(raw, object_pairs_hook=_refuse_duplicate_keys)
    # pydantic loads with the first request that has a body (every model is a lazy module's).
    from pydantic import ValidationError

    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed(_field_errors(exc)) from None


def query_param(request: Request, name: str) -> str | None:
    """A query parameter's (last) value, or None."""
    params = request.query_params
    value = params.get(name) if params is not None else None
    return value if isinstance(value, str) else None


def query_choice(request: Request, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    """?name=: one of `allowed` (400 naming them otherwise), or `default` when absent."""
    value = query_param(request, name)
    if value is None:
        return default
    if value not in allowed:
        raise ValidationFailed.single(name, f"one of {', '.join(allowed)}")
    return value


_SMALL_NUMBER = re.compile(r"[0-9]{1,6}", re.ASCII)


def query_limit(request: Request, default: int = 20, maximum: int = 100) -> int:
    """?limit=: ASCII digits only (not a superscript, Arabic-Indic or full-width digit), from 1 to `maximum`."""
    raw = query_param(request, "limit")
    if raw is None:
        return default
    if not _SMALL_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise ValidationFailed.single("limit", f"an integer from 1 to {maximum}")
    return int(raw)


MAX_CURSOR_LENGTH = 1024


def query_cursor(request: Request) -> str | None:
    cursor = query_param(request, "cursor") or None
    if cursor is not None and len(cursor) > MAX_CURSOR_LENGTH:
        raise ValidationFailed.single("cursor", "not a cursor this API gave out")
    return cursor


IDEMPOTENCY_KEY_MAX = 128
_KEY_RULE = f"1 to {IDEMPOTENCY_KEY_MAX} printable characters"


def _checked_key(value: str | None, rule: str) -> str:
    if not value or len(value) > IDEMPOTENCY_KEY_MAX or not value.isprintable():
        raise ValidationFailed.single("Idempotency-Key", rule)
    return value


def idempotency_key(request: Request) -> str:
    """The Idempotency-Key header, required: 1 to 128 printable characters (400 naming it otherwise)."""
    return _checked_key(request.headers.get("idempotency-key"), f"header required, {_KEY_RULE}")


def optional_idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header when sent (then as `idempotency_key` requires it)."""
    value = request.headers.get("idempotency-key")
    return None if value is None else _checked_key(value, _KEY_RULE)


def path_id(raw: str, field: str) -> str:
    """An id from the path, percent-decoded; 400 naming the field if it cannot be one."""
    value = path_identifier(raw)
    if value is None:
        raise ValidationFailed.single(field, "not a valid identifier")
    return value


def client_address(request: Request) -> str:
    """The caller's address for per-client limits: the viewer's, for a request proven to come
    through the web app's CloudFront distribution, else the TCP peer API Gateway saw (never a
    header the client sets alone); an IPv6 client is its /64 (api/caller_address.py)."""
    return caller_address(request.context, request.headers, distribution_secret)


# Chalice answers some errors itself, as {"Code": ..., "Message": ...}; the
# middleware turns those into problem+json too.
_CHALICE_ERRORS: dict[int, type[HuiyuanError]] = {
    400: ValidationFailed,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def _as_problem(response: Response) -> Response:
    if response.status_code < 400:
        return response
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", "application/json")
    if isinstance(content_type, str) and content_type.startswith(PROBLEM_JSON):
        return response
    kind = _CHALICE_ERRORS.get(response.status_code)
    if kind is ValidationFailed:
        converted = problem_response(ValidationFailed.single("body", "the request could not be read"))
    elif kind is not None:
        converted = problem_response(kind())
    else:
        converted = problem_response(InternalError("An internal error occurred"))
    allow = response.headers.get("Allow")
    if allow:
        converted.headers["Allow"] = allow
    return converted


def problem_middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Outermost app middleware: body limit, Chalice's own errors as problem+json, what escapes
    the routes through `error_response`, metrics."""
    try:
        raw = request.raw_body if request.method in ("POST", "PUT", "PATCH", "DELETE") else b""
        if raw and len(raw) > get_settings().max_body_bytes:
            response = problem_response(PayloadTooLarge(f"Bodies are limited to {get_settings().max_body_bytes} bytes"))
        else:
            response = _as_problem(get_response(request))
    except Exception as exc:
        response = error_response(exc, request)
    finally:
        metrics.flush_metrics()
    return response
