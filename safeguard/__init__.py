"""safeguard package."""
