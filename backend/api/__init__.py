"""The JSON API under /api/v1: routing with validation and the OpenAPI document."""
