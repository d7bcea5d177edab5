"""The door: landing contract, drop discovery, typed reading with quarantine, identity split."""
