"""Chalice's local API Gateway, answering gateway-level errors as the deployed
API does: problem+json, through the gateway responses the stack configures.

| gateway event                 | deployed (gateway response) | here                    |
|-------------------------------|-----------------------------|-------------------------|
| authorizer refuses the token  | UNAUTHORIZED -> 401         | 401 `unauthorized`      |
| no Authorization header       | UNAUTHORIZED -> 401         | 401 `unauthorized`      |
| policy denies the route       | ACCESS_DENIED -> 403        | 403 `forbidden`         |
| no such route                 | MISSING_AUTHENTICATION_TOKEN -> 404 | 404 `not_found` |
| the authorizer fails (storage throttled, no answer) | AUTHORIZER_FAILURE -> 503 | 503 `temporarily_unavailable` |
"""

from __future__ import annotations

import json
from typing import Any

from chalice.local import ForbiddenError, LocalGateway, NotAuthorizedError

from chalicelib.api.problems import problem
from chalicelib.api.routes.members import TokenRefused
from chalicelib.domain.errors import Forbidden, HuiyuanError, NotFound, TemporarilyUnavailable, Unauthorized
from chalicelib.observability import logger


def problem_event(error: HuiyuanError) -> dict[str, Any]:
    status, headers, body = problem(error)
    return {"statusCode": status, "headers": headers, "multiValueHeaders": {}, "body": json.dumps(body)}


class ProblemGateway(LocalGateway):
    def handle_request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
        try:
            return super().handle_request(method=method, path=path, headers=headers, body=body)
        except (TokenRefused, NotAuthorizedError):
            return problem_event(Unauthorized("A valid bearer token is required"))
        except ForbiddenError as exc:
            body = exc.body or b""
            if b"Missing Authentication Token" in body or b"Authorization header requires" in body:
                return problem_event(NotFound(f"No route {method} {path.split('?')[0]}"))
            return problem_event(Forbidden("Not allowed"))
        except Exception:
            # The app's own errors never get here (its middleware answers them): this is the
            # authorizer failing, which API Gateway answers with its AUTHORIZER_FAILURE response.
            logger.exception("authorizer failed")
            return problem_event(TemporarilyUnavailable())
