"""The OpenAPI 3.0 document of /api/v1 (tests check it against the routes with schemathesis,
and that every route is documented and every documented path exists)."""

from __future__ import annotations

from typing import Any

from pricehawk.tracking.models import ALERT_KINDS

MAX_ID = 2**63 - 1


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "nullable": True, **extra}


MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "129.99"}
NULL_MONEY = {**MONEY, "nullable": True}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {**TIME, "nullable": True}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "upgrade": _nullable("string"),
            "limit": {"type": "integer"},
        },
    },
    "Alert": {
        "type": "object",
        "required": ["kind", "threshold", "armed", "last_fired_at"],
        "properties": {
            "kind": {"type": "string", "enum": list(ALERT_KINDS)},
            "threshold": _nullable("string"),
            "armed": {"type": "boolean"},
            "last_fired_at": NULL_TIME,
        },
    },
    "Product": {
        "type": "object",
        "required": ["id", "url", "retailer", "title", "image_url", "price", "currency",
                     "availability", "lowest_price", "last_observed_at", "paused", "alerts"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "url": {"type": "string"},
            "retailer": {"type": "string"},
            "title": _nullable("string"),
            "image_url": _nullable("string"),
            "price": NULL_MONEY,
            "currency": _nullable("string"),
            "availability": _nullable("string"),
            "lowest_price": NULL_MONEY,
            "last_observed_at": NULL_TIME,
            "paused": {"type": "boolean"},
            "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
        },
    },
    "ProductList": {
        "type": "object",
        "required": ["products"],
        "properties": {
            "products": {"type": "array", "items": {"$ref": "#/components/schemas/Product"}}
        },
    },
    "NewProduct": {
        "type": "object",
        "required": ["url"],
        "properties": {"url": {"type": "string", "example": "https://shop.example/product/1"}},
    },
    "PricePoint": {
        "type": "object",
        "required": ["observed_at", "price", "availability"],
        "properties": {"observed_at": TIME, "price": MONEY, "availability": _nullable("string")},
    },
    "History": {
        "type": "object",
        "required": ["product_id", "points"],
        "properties": {
            "product_id": {"type": "integer"},
            "points": {"type": "array", "items": {"$ref": "#/components/schemas/PricePoint"}},
        },
    },
    "Deal": {
        "type": "object",
        "required": ["id", "title", "url", "retailer", "category", "price", "usual_price",
                     "currency", "discount_pct", "glitch_type", "confidence", "status",
                     "observed_at", "validated_at", "ended_at", "lasted_seconds"],
        "properties": {
            "id": {"type": "integer"},
            "title": _nullable("string"),
            "url": {"type": "string"},
            "retailer": {"type": "string"},
            "category": _nullable("string"),
            "price": MONEY,
            "usual_price": NULL_MONEY,
            "currency": {"type": "string"},
            "discount_pct": _nullable("integer"),
            "glitch_type": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "status": {"type": "string", "enum": ["live", "ended"]},
            "observed_at": TIME,
            "validated_at": TIME,
            "ended_at": NULL_TIME,
            "lasted_seconds": {"type": "integer"},
        },
    },
    "DealList": {
        "type": "object",
        "required": ["deals"],
        "properties": {"deals": {"type": "array", "items": {"$ref": "#/components/schemas/Deal"}}},
    },
}  # fmt: skip


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "Bad request",
        401: "Missing or invalid API token",
        403: "Not allowed on this plan (or the tracked-product limit is reached)",
        404: "Not found",
        422: "The URL could not be tracked",
        429: "Rate limit reached",
    }
    out: dict[str, Any] = {}
    for code in (401, 403, 429, *codes):
        out[str(code)] = _json("Error", words[code])
    out["429"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
    }
    return out


PRODUCT_ID = {
    "name": "product_id",
    "in": "path",
    "required": True,
    "description": "The tracked product's id (as listed by GET /products).",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}


def openapi_document(base_url: str) -> dict[str, Any]:
    """The document, with this server's public address."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "PriceHawk API",
            "version": "1.0.0",
            "description": "Tracked products, price history and deals. Elite plan; create a "
            "token on the Developer page and send it as `Authorization: Bearer ph_...`.",
        },
        "servers": [{"url": base_url.rstrip("/") + "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": {
            "/products": {
                "get": {
                    "operationId": "listProducts",
                    "summary": "My tracked products",
                    "responses": {"200": _json("ProductList", "Tracked products"), **_errors()},
                },
                "post": {
                    "operationId": "addProduct",
                    "summary": "Track a product URL (its price is read now)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NewProduct"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("Product", "Already tracked"),
                        "201": _json("Product", "Now tracked"),
                        **_errors(400, 422),
                    },
                },
            },
            "/products/{product_id}": {
                "parameters": [PRODUCT_ID],
                "get": {
                    "operationId": "getProduct",
                    "summary": "One tracked product",
                    "responses": {"200": _json("Product", "The product"), **_errors(404)},
                },
                "delete": {
                    "operationId": "deleteProduct",
                    "summary": "Stop tracking a product",
                    "responses": {"204": {"description": "Removed"}, **_errors(404)},
                },
            },
            "/products/{product_id}/history": {
                "parameters": [PRODUCT_ID],
                "get": {
                    "operationId": "productHistory",
                    "summary": "Prices over the plan's history depth, oldest first",
                    "responses": {"200": _json("History", "Price history"), **_errors(404)},
                },
            },
            "/deals": {
                "get": {
                    "operationId": "listDeals",
                    "summary": "Deals my plan may see now, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        }
                    ],
                    "responses": {"200": _json("DealList", "Deals"), **_errors(400)},
                },
            },
        },
    }
