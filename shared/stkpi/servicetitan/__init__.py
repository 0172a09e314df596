"""ServiceTitan API client: the only code that talks HTTP to ServiceTitan.

Public API (stable; other packages import only these names)::

    from stkpi.servicetitan import ServiceTitanClient, Page, FetchError, MalformedPageError, AuthError
"""

from stkpi.servicetitan.client import ServiceTitanClient
from stkpi.servicetitan.drift import paging_may_have_skipped
from stkpi.servicetitan.errors import (
    AuthError,
    FetchError,
    MalformedPageError,
    RequestRejectedError,
    Target,
)
from stkpi.servicetitan.pages import ExportPage, Page
from stkpi.servicetitan.retry import RetryPolicy
from stkpi.servicetitan.stats import ClientStats

__all__ = [
    "AuthError",
    "ClientStats",
    "ExportPage",
    "FetchError",
    "MalformedPageError",
    "Page",
    "RequestRejectedError",
    "RetryPolicy",
    "ServiceTitanClient",
    "Target",
    "paging_may_have_skipped",
]
