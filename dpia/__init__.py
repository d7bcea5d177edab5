"""dpia package."""
