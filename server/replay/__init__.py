"""Replaying a business day against a running server through its public API."""
