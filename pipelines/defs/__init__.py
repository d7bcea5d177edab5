"""Definitions added with ``dg scaffold defs`` (the folder dg expects under the root module).

``pipelines/definitions.py`` loads the assets and checks found here into the code location, so a
scaffolded asset is wired like every other: it gets its ``dpia/*`` metadata from the register,
and loading fails until ``dpia/register.yaml`` has a record for it. Modules here follow the
asset-module rules (tests/test_imports_matrix.py): they import foundation modules of
``pipelines`` only, never another asset module.
"""
