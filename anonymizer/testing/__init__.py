"""Test doubles a user can run: the built-in Bulk Data test server (loopback only)."""
