"""Shared data between agencies: catalogue, services, grants, gateway, sharing log."""
