"""The pure core: models and decisions, no I/O (only the standard library and pydantic)."""
