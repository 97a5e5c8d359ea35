"""Base templates, static assets and shared page helpers."""
