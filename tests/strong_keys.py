"""Fixed keys strong enough for the key check (32+ bytes, not repeated) for tests that need stable output.

They are test values, published here on purpose: never use them for real data.
"""

HASH_KEY = "test-only-hash-key-9f3c2a7e41b8d05c6e19"
DATE_KEY = "test-only-date-key-2b7d94e0c8a1f63e5d70"
ENCRYPT_KEY = "test-only-aes256-key-4c8e1a9d07b"  # 32 bytes: AES-256
