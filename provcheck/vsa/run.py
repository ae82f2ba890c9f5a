"""One verification that keeps what a summary needs: the report, the attestations it was
computed from and the instant it judged by; then the summary, signed, and attached."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from provcheck._internal.clock import evaluation_time
from provcheck.errors import UsageError
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference, parse_reference
from provcheck.predicates import SLSA_VSA_V1
from provcheck.source.deadline import DEFAULT_TIMEOUT, Deadline
from provcheck.vsa.summary import VerificationInputs, statement_bytes, vsa_statement

if TYPE_CHECKING:
    from provcheck.attestation.signing import SigningKey
    from provcheck.discovery.model import ImageAttestations
    from provcheck.policy import Policy
    from provcheck.report import Report
    from provcheck.source.registry import RegistryClient, RegistryOptions


@dataclass(frozen=True, slots=True)
class Summary:
    """A verification and its summary: ``document`` is the statement JSON, or the DSSE
    envelope JSON when it was signed; ``attached`` the ``.att`` manifest written, if any."""

    report: Report
    found: ImageAttestations
    document: bytes
    attached: Descriptor | None = None


async def _verify(
    reference: str,
    policy: Policy,
    client: RegistryClient | None,
    now: datetime,
    timeout: float,
    max_layer_bytes: int | None,
    elsewhere: ImageReference | None,
) -> tuple[Report, ImageAttestations]:
    from provcheck.api import inspect_image_async, verification_options
    from provcheck.policy import evaluate

    options = verification_options(policy)
    if max_layer_bytes is not None:
        options = replace(options, max_layer_bytes=max_layer_bytes)
    if elsewhere is not None:
        options = replace(options, attestations_repository=elsewhere, signature_stores=True)
    found = await inspect_image_async(reference, options=options, client=client, timeout=timeout)
    return evaluate(found, policy, now=now), found


async def summarise_async(
    reference: str,
    policy: Policy,
    policy_uri: str,
    policy_bytes: bytes,
    *,
    registry: RegistryOptions | None = None,
    sign_key: SigningKey | None = None,
    attach: bool = False,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_layer_bytes: int | None = None,
    attestations_repository: ImageReference | None = None,
) -> Summary:
    """Verify ``reference`` against ``policy`` (whose file is ``policy_uri``, exactly
    ``policy_bytes``) at ``now`` (default: the clock, in whole seconds), and summarise it; sign
    with ``sign_key``; with ``attach``, add the signed summary to the image's ``.att`` tag (in
    place of the key's earlier summaries there). With ``attestations_repository`` (cosign's
    ``COSIGN_REPOSITORY``) the signature stores of that repository are read too, and the
    summary is attached there, where cosign looks for it.

    Raises :class:`UsageError` for ``attach`` without a key or on a local layout, and what
    :func:`provcheck.api.verify_image` and :func:`provcheck.vsa.attach.attach_attestation`
    raise.
    """
    from provcheck import __version__

    ref = parse_reference(reference)
    if attach and sign_key is None:
        raise UsageError("--attach needs --sign-key: cosign only accepts signed attestations")
    if attach and not isinstance(ref, ImageReference):
        raise UsageError("--attach needs a registry reference, not a local layout")
    moment = evaluation_time(now).replace(microsecond=0)

    async def run(client: RegistryClient | None) -> Summary:
        report, found = await _verify(
            str(ref), policy, client, moment, timeout, max_layer_bytes, attestations_repository
        )
        inputs = VerificationInputs(report, found, policy_uri, policy_bytes, moment)
        document = statement_bytes(vsa_statement(inputs, __version__))
        if sign_key is not None:
            from provcheck.attestation.signing import sign_envelope

            document = sign_envelope(document, sign_key)
        attached = None
        if attach and client is not None and isinstance(ref, ImageReference):
            from provcheck.vsa.attach import attach_attestation

            deadline = Deadline(timeout)
            async with deadline.enforce():
                source = client.source(attestations_repository or ref, deadline=deadline)
                attached = await attach_attestation(
                    source,
                    found.digest,
                    document,
                    SLSA_VSA_V1,
                    supersedes=sign_key.public if sign_key is not None else None,
                )
        return Summary(report, found, document, attached)

    if not isinstance(ref, ImageReference):
        return await run(None)
    from provcheck.source.registry import RegistryClient

    async with RegistryClient(registry) as client:
        return await run(client)
