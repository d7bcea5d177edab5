"""Typed definitions shared by every package (the bottom of the import graph, over ``dpia``).

- :mod:`safeguard.contracts.landing`: the landing contract (agency sources, their columns, each
  source's event-date column), read from ``contracts/landing_contract.yaml`` once.
- :mod:`safeguard.contracts.layout`: the data-directory layout (``DataDir``), the file names once.
- :mod:`safeguard.contracts.gates`: the operating threshold and the gates' tolerances (``GateSettings``),
  the defaults once; the council configuration fills it.

It holds definitions only (no pipeline logic) and imports nothing of ours but ``dpia``.
"""
