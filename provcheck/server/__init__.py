"""``provcheck serve``: the HTTPS admission webhook around :class:`provcheck.admission.Gate`.

:mod:`~provcheck.server.app` is the ASGI application (endpoints, body cap, log records),
:mod:`~provcheck.server.metrics` its Prometheus metrics, :mod:`~provcheck.server.run` runs it
under uvicorn. Imports the ``serve`` extra (uvicorn, uvloop, httptools, prometheus-client).
"""

from __future__ import annotations

from provcheck.server.run import ServeOptions, serve

__all__ = ["ServeOptions", "serve"]
