"""What the OpenAPI description says of every endpoint beyond its success: the error shape
every surface answers with, the error statuses each endpoint may give, binary and XML bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine code, e.g. unknown_agency")
    message: str = Field(description="What is wrong and how to fix it (Accept-Language)")
    details: Any = None


class ErrorBody(BaseModel):
    """Every error answer of the node: `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not signed in, or the software's credentials are wrong",
    403: "Signed in, but without the role this needs (`role_required`, `forbidden`)",
    404: "No such resource, or not one the caller may see",
    405: "Method not allowed (see Allow)",
    408: "The request body took longer than the upload deadline (`upload_timeout`)",
    409: "Conflicts with what is stored",
    413: "The request body is too large",
    415: "Content-Encoding other than identity (`unsupported_content_encoding`)",
    422: "The request breaks a rule; `details` says which field or element",
    429: "Too many requests or failed sign-ins; see Retry-After",
    431: "Request headers too large",
    503: "Database unavailable or too many uploads at once; see Retry-After",
    502: "An upstream system answered wrongly (an error, too much, malformed JSON)",
    504: "An upstream system did not answer in time",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` entries for these error statuses, all with the error shape."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


# Every operation: the database may be away, headers too large, a parameter wrong.
EVERYWHERE = errors(422, 431, 503)
# Every operation that takes a body.
WITH_BODY = errors(408, 413, 415)
# Every operation that needs a caller.
SIGNED_IN = errors(401, 403, 429)


def binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 whose body is a file, not JSON."""
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


def raw_body(media_type: str, description: str) -> dict[str, Any]:
    """`openapi_extra` for an endpoint that reads its body itself (an edXML package)."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media_type: {"schema": {"type": "string"}}},
        }
    }
