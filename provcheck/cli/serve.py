"""``provcheck serve``: the HTTPS admission webhook (:mod:`provcheck.server`).

Needs the ``serve`` extra (uvicorn, httptools, uvloop, prometheus-client), imported only here,
when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from provcheck.cli.common import (
    ExitCode,
    add_attestations_repo,
    add_verbose,
    attestations_repository_of,
    open_cli_cache,
    size,
)
from provcheck.cli.common import seconds as seconds_type
from provcheck.errors import UsageError

if TYPE_CHECKING:
    from provcheck.source.registry import CredentialProvider

MAX_DOCKER_CONFIG_BYTES: Final = 1024 * 1024


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: 1 to 65535")
    return value


def add(commands: Any) -> None:
    """``provcheck serve --policy FILE --tls-cert FILE --tls-key FILE [options]``."""
    serve: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="run the Kubernetes admission webhook (HTTPS)",
        description="Answer admission.k8s.io/v1 AdmissionReviews over HTTPS: POST /validate\n"
        "allows or denies Pods and Pod templates by verifying their images against the policy,\n"
        "POST /mutate also pins each verified image to its digest. GET /healthz, /readyz (after\n"
        "--warm), /metrics (Prometheus). One JSON log line a review on stderr. SIGTERM or\n"
        "SIGINT stops gracefully: in-flight reviews finish. Needs pip install 'provcheck[serve]'.",
    )
    serve.add_argument("--policy", type=Path, required=True, help="policy file (YAML)")
    serve.add_argument("--tls-cert", type=Path, required=True, metavar="FILE", help="PEM chain")
    serve.add_argument("--tls-key", type=Path, required=True, metavar="FILE", help="PEM key")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=_port, default=8443, help="port (default 8443)")
    serve.add_argument(
        "--budget",
        type=seconds_type,
        default=8.0,
        metavar="SECONDS",
        help="time for one review; an image not verified by then is denied, and finished in "
        "the background (default 8, under Kubernetes' default webhook timeout of 10)",
    )
    serve.add_argument(
        "--tag-ttl",
        type=seconds_type,
        default=5.0,
        metavar="SECONDS",
        help="how long a tag's verified digest is used before it is resolved again (default 5)",
    )
    serve.add_argument(
        "--warm",
        metavar="FILE",
        help="verify these images at start (a list or Kubernetes YAML, as audit --from); "
        "/readyz is ready only after",
    )
    serve.add_argument(
        "--cache",
        metavar="DIR|redis://HOST:PORT/DB",
        help="content and verdicts cache (default $XDG_CACHE_HOME/provcheck; Redis to share it "
        "between replicas, with an HMAC key in $PROVCHECK_CACHE_HMAC_KEY)",
    )
    serve.add_argument(
        "--cache-max-size",
        type=size,
        metavar="SIZE",
        help="size bound of a cache directory (default 1GiB)",
    )
    group = serve.add_argument_group("registry access")
    group.add_argument(
        "--docker-config",
        type=Path,
        metavar="FILE",
        help="registry credentials: the auths of this config.json (a mounted "
        "kubernetes.io/dockerconfigjson Secret); default: Docker's config ($DOCKER_CONFIG)",
    )
    group.add_argument(
        "--insecure-registry", action="append", default=[], metavar="HOST", help="plain HTTP"
    )
    group.add_argument("--ca-file", type=Path, help="PEM bundle of CAs to trust for TLS")
    add_attestations_repo(serve)
    add_verbose(serve, "verbose_serve")
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    """Serve until stopped: 0 after SIGTERM, 130 after SIGINT."""
    import signal

    from provcheck.audit.inputs import read_inputs
    from provcheck.policy.loader import read_policy
    from provcheck.source.registry import RegistryOptions

    try:
        from provcheck.server import ServeOptions, serve
    except ImportError as exc:  # the extra is missing
        raise UsageError(f"serve needs pip install 'provcheck[serve]' ({exc.name})") from exc
    # The exact bytes parsed: they are part of every cached verdict's key.
    raw, policy = read_policy(args.policy)
    for path in (args.tls_cert, args.tls_key):
        if not path.is_file():
            raise UsageError(f"{path}: no such file (--tls-cert/--tls-key)")
    warm = tuple(read_inputs(args.warm)) if args.warm is not None else ()
    credentials = _credentials(args.docker_config)
    registry = RegistryOptions(
        insecure_registries=frozenset(args.insecure_registry), ca_file=args.ca_file
    )
    cache = open_cli_cache(args)
    options = ServeOptions(
        policy=policy,
        policy_document=raw,
        cache=cache,
        registry=registry,
        credentials=credentials,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        host=args.host,
        port=args.port,
        budget=args.budget,
        tag_ttl=args.tag_ttl,
        warm=warm,
        attestations_repository=attestations_repository_of(args),
    )
    stopped_by = serve(options)
    return ExitCode.INTERRUPTED if stopped_by is signal.SIGINT else ExitCode.PASS


def _credentials(path: Path | None) -> CredentialProvider | None:
    """The credentials of ``--docker-config`` (``None``: Docker's own config). Raises
    :class:`UsageError` for a file that cannot be read or parsed (never quoting it)."""
    if path is None:
        return None
    from provcheck._internal.files import read_capped
    from provcheck.source.registry import StaticCredentials

    data = read_capped(path, MAX_DOCKER_CONFIG_BYTES, "docker config")
    return StaticCredentials.from_docker_config_json(data, str(path))
