"""A throwaway certificate authority for loopback HTTPS doubles (``trustme``).

The CA's PEM goes to a file: that file is the ``TRACEWATCH_CA_BUNDLE`` the clients under test trust.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


class TestCA:
    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self._ca = trustme.CA()
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self.bundle = Path(directory) / "tracewatch-test-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.bundle))

    def server_context(self) -> ssl.SSLContext:
        """What a loopback double serves with (a certificate for 127.0.0.1 and localhost)."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.bundle))
