"""HTTP layer: routers, schemas and dependencies (thin: all logic lives in services)."""
