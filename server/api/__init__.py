"""The HTTP API under ``/api/``: thin adapters from requests to core commands."""
