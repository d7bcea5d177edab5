"""The practitioner and reviewer web portal: explained flags, recorded judgement, access control.

Dagster OSS has no access control, so the portal owns it. Start it with
``safeguard portal --data-dir DIR`` (:func:`serve`), manage accounts with :mod:`safeguard.portal.users`.
"""

from safeguard.portal.app import create_app
from safeguard.portal.server import serve
from safeguard.portal.settings import PortalSettings

__all__ = ["PortalSettings", "create_app", "serve"]
