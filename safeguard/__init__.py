"""safeguard: one import name for every package of the project.

The sub-packages (``safeguard.pipelines``, ``safeguard.models``, ...) live in folders at the
repository root; an install maps them here (``[tool.setuptools.package-dir]`` in pyproject.toml,
written by ``tools/namespace.py``). In a source checkout they are found here as well, so that a
checkout on ``PYTHONPATH`` (a worktree, a test subprocess) imports its own folders, never those of
another checkout installed in the same environment. An installed copy has no pyproject.toml beside
it and keeps its own sub-packages only.
"""

from pathlib import Path as _Path

_checkout = _Path(__file__).absolute().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "pipelines" / "__init__.py").is_file():
    __path__.append(str(_checkout))
del _Path, _checkout


def _audit_settings(data_dir):  # type: ignore[no-untyped-def]
    # The settings model is imported on the first audit append, not with every import.
    from safeguard.settings import audit_settings

    return audit_settings(data_dir)


# The audit trail's key and anchor folder come from the one settings model (issue 16): the
# audit module (in dpia, which imports nothing of ours) gets them through this provider.
from safeguard.dpia import audit_anchor as _audit_anchor  # noqa: E402

_audit_anchor.use_default_settings(_audit_settings)
del _audit_anchor
