"""The embedded warehouse's storage engine: DuckDB warehouse and identity vault files, staged
writes published atomically with the warehouse as the one commit point, recovery of an
interrupted write, and the fault-injection hook the crash-consistency tests use.

A plain library (no dagster): the pipeline's ``Warehouse`` resource
(:mod:`safeguard.pipelines.resources`) wraps it, and the command line's admin path
(``safeguard purge``) uses it directly. Imports nothing of ours but ``safeguard.contracts``.
"""
