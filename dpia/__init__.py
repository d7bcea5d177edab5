"""DPIA register, column firewall, pseudonymisation and audit trail; imports nothing of ours."""
