"""Thin wrappers around the external systems the operator talks to."""
