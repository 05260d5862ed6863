"""Loopback doubles of the services the actions call (PagerDuty, Slack), over real sockets.

The server classes live in ``demo.standins`` (``tracewatch demo`` uses them too); this package adds
the TLS material (``trustme``) and the pytest fixtures (``tests.doubles.fixtures``).
"""

from demo.standins import PagerDutyStandin, SlackStandin
from tests.doubles.tls import TestCA

__all__ = ["PagerDutyStandin", "SlackStandin", "TestCA"]
