"""The OpenAPI 3.1 document of the inference API, written by hand and kept in sync by a test."""

from __future__ import annotations

from typing import Any

from api.wire import CLASSIFY_PATH, ERRORS

# Codes of answers the HTTP layer gives itself, besides those of `api.wire.ERRORS`.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 500: "internal"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _retry(description: str) -> dict[str, Any]:
    return {
        **_error(description),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
    }


def _status(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}},
    }


_EVIDENCE: dict[str, Any] = {
    "type": "object",
    "description": "A declaration the image makes about itself (Content Credentials, metadata).",
    "properties": {
        "source": {"type": "string", "enum": ["c2pa", "xmp", "metadata"]},
        "declares": {
            "type": "string",
            "enum": ["ai-generated", "ai-edited", "captured", "edited", "unknown"],
        },
        "generator": {"type": ["string", "null"]},
        "signer": {"type": ["string", "null"]},
        "state": {"type": ["string", "null"], "enum": ["trusted", "valid", "invalid", None]},
        "detail": {"type": "string"},
    },
}

_JUDGEMENT: dict[str, Any] = {
    "type": "object",
    "required": ["fake_probability", "real_probability", "verdict", "threshold", "classes"],
    "properties": {
        "fake_probability": {"type": "number", "minimum": 0, "maximum": 1},
        "real_probability": {"type": "number", "minimum": 0, "maximum": 1},
        "verdict": {"type": "string", "enum": ["FAKE", "REAL"]},
        "threshold": {"type": "number", "description": "FAKE at or above it."},
        "classes": {"type": "object", "additionalProperties": {"type": "number"}},
        "sha256": {"type": "string", "description": "Of the image bytes."},
        "queue_ms": {"type": "number"},
        "model_ms": {"type": "number"},
        "cached": {"type": "boolean"},
        "provenance": {"type": "array", "items": _EVIDENCE},
        "declared_ai": {"type": "boolean", "description": "The image declares AI itself."},
        "verdict_reason": {"type": "string", "enum": ["model", "declared"]},
    },
}

_CLASSIFY: dict[str, Any] = {
    "summary": "Judge one image: how likely it is AI-generated.",
    "security": [{}, {"bearer": []}],
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    },
    "responses": {
        "200": {
            "description": "The judgement (the fields of `deepguard check --json`).",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Judgement"}}
            },
        },
        "400": _error("Corrupt or unreadable image, or a form without a file."),
        "401": _error("Missing or wrong bearer token."),
        "413": _error("Image over the byte, pixel or side limit."),
        "415": _error("Not an image format that is decoded."),
        "429": _retry("Too many requests waiting; retry after Retry-After."),
        "500": _error("The model failed."),
        "503": _retry("Starting (model loading) or shutting down."),
        "504": _error("Not judged within the request timeout."),
    },
}


def document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "DeepGuard inference API", "version": version},
        "paths": {
            CLASSIFY_PATH: {"post": _CLASSIFY},
            "/healthz": {"get": {"summary": "Alive.", "responses": {"200": _status("Alive.")}}},
            "/readyz": {
                "get": {
                    "summary": "Model loaded and queue not saturated.",
                    "responses": {"200": _status("Ready."), "503": _status("Not ready.")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics.",
                    "security": [{}, {"bearer": []}],
                    "responses": {
                        "200": {
                            "description": "Prometheus text format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _error("Missing or wrong bearer token."),
                    },
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document.", "responses": {"200": {"description": "OK"}}}
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Judgement": _JUDGEMENT,
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {
                            "type": "string",
                            "enum": sorted({k.code for k in ERRORS} | set(HTTP_CODES.values())),
                        },
                        "message": {"type": "string", "description": "Safe to show a user."},
                    },
                },
                "Status": {"type": "object", "properties": {"status": {"type": "string"}}},
            },
        },
    }
