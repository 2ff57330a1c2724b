"""Core types, errors and seams: standard library and pydantic only."""
