"""C2PA Content Credentials, checked by the `c2pa-python` library against our trust anchors.

The library would fetch a manifest stored elsewhere (a URL the uploader chose) and OCSP answers:
both are off, so checking an image never touches the network. Signers are trusted when they
chain to the configured anchors (the C2PA trust list shipped with DeepGuard by default).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any, Final

import c2pa

from core.provenance.generators import known_generator
from core.provenance.iptc import declares, source_type_name, strongest
from core.result import Declares, Evidence, Source, State

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES: Final = 8 * 1024 * 1024  # a larger store is not checked
_MIME: Final = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
}
_STATES: Final = {"trusted": State.TRUSTED, "valid": State.VALID, "invalid": State.INVALID}
_ACTIONS: Final = ("c2pa.actions", "c2pa.actions.v2")
_UNTRUSTED: Final = "signingCredential.untrusted"  # "valid" already says it
_AI: Final = (Declares.AI_GENERATED, Declares.AI_EDITED)


class Credentials:
    """Checks embedded manifests; one C2PA context (settings and anchors), shared by threads."""

    def __init__(self, trust_anchors_pem: str) -> None:
        try:
            self._context = c2pa.Context.from_dict(
                {
                    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                    "trust": {"trust_anchors": trust_anchors_pem},
                }
            )
        except c2pa.C2paError as exc:
            raise ValueError(f"the C2PA trust anchors cannot be used: {exc}") from None

    def check(self, data: bytes, fmt: str, manifest_bytes: int) -> Evidence | None:
        """The manifest's evidence; None when the library finds no manifest after all.

        `manifest_bytes` is 0 when the manifest was only searched for (GIF, AVIF, HEIF): a
        manifest the library then cannot read may be a chance match, so it is not reported.
        """
        if manifest_bytes > MAX_MANIFEST_BYTES:
            return Evidence(
                Source.C2PA, Declares.UNKNOWN, detail="Content Credentials too large to check"
            )
        try:
            reader = c2pa.Reader.try_create(_MIME[fmt], io.BytesIO(data), None, self._context)
            if reader is None:
                return None
            with reader:
                store = json.loads(reader.json())
        except c2pa.C2paError.NotSupported:
            log.debug("C2PA: %s is not supported", fmt)
            return Evidence(
                Source.C2PA, Declares.UNKNOWN, detail="Content Credentials in a format not checked"
            )
        except (c2pa.C2paError, ValueError) as exc:
            if _remote(exc):
                log.debug("C2PA: a manifest stored elsewhere was not fetched")
                return None
            log.debug("C2PA: the manifest cannot be read: %s", exc)
            if manifest_bytes == 0:
                return None
            return Evidence(
                Source.C2PA,
                Declares.UNKNOWN,
                state=State.INVALID,
                detail="Content Credentials damaged: the manifest cannot be read",
            )
        return evidence_from_store(store)


def _remote(error: Exception) -> bool:
    """The library's "must fetch remote manifests" (typed or not, depending on its version)."""
    return isinstance(error, c2pa.C2paError.RemoteManifest) or str(error).startswith("Remote")


def evidence_from_store(store: Any) -> Evidence:
    """The active manifest's state, generator, signer and declaration (the library's JSON)."""
    if not isinstance(store, Mapping):
        store = {}
    state = _STATES.get(str(store.get("validation_state", "")).lower())
    manifests = store.get("manifests")
    active = (
        manifests.get(store.get("active_manifest")) if isinstance(manifests, Mapping) else None
    )
    if not isinstance(active, Mapping):
        return Evidence(
            Source.C2PA, Declares.UNKNOWN, state=state, detail="no active manifest found"
        )
    generator = _claim_generator(active)
    signature = active.get("signature_info")
    signer = _signer(signature) if isinstance(signature, Mapping) else None
    source_types = list(dict.fromkeys(_source_types(active.get("assertions"))))
    found = strongest(declares(value) for value in source_types)
    if found not in _AI and generator and known_generator(generator):
        found = Declares.AI_GENERATED
    return Evidence(
        Source.C2PA,
        found,
        generator=generator,
        signer=signer,
        state=state,
        detail=_detail(state, source_types, _failures(store)),
    )


def _claim_generator(manifest: Mapping[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], Mapping):
        name = info[0].get("name")
        if isinstance(name, str) and name.strip():
            return name
    legacy = manifest.get("claim_generator")  # claims v1: "Product/1.0 library/0.7"
    return legacy if isinstance(legacy, str) and legacy.strip() else None


def _signer(signature: Mapping[str, Any]) -> str | None:
    """The signing certificate's organisation (the library calls it "issuer"), else its name."""
    for key in ("issuer", "common_name"):
        value = signature.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _source_types(assertions: Any) -> Iterator[str]:
    if not isinstance(assertions, list):
        return
    for assertion in assertions:
        if not isinstance(assertion, Mapping):
            continue
        label = str(assertion.get("label", "")).split("__", 1)[0]  # "c2pa.actions__1"
        data = assertion.get("data")
        if label not in _ACTIONS or not isinstance(data, Mapping):
            continue
        actions = data.get("actions")
        for action in actions if isinstance(actions, list) else ():
            value = action.get("digitalSourceType") if isinstance(action, Mapping) else None
            if isinstance(value, str) and value.strip():
                yield value


def _failures(store: Mapping[str, Any]) -> list[str]:
    """Failure codes of the active manifest (untrusted signers aside)."""
    results = store.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, Mapping) else None
    items = (
        active.get("failure") if isinstance(active, Mapping) else store.get("validation_status")
    )
    codes = [
        str(item.get("code"))
        for item in (items if isinstance(items, list) else ())
        if isinstance(item, Mapping) and item.get("code")
    ]
    return [code for code in dict.fromkeys(codes) if code != _UNTRUSTED]


def _detail(state: State | None, source_types: list[str], failures: list[str]) -> str:
    if state is State.INVALID:
        reasons = f" ({', '.join(failures[:3])})" if failures else ""
        return f"manifest fails validation{reasons}: tampered with or damaged"
    signed = {
        State.TRUSTED: "signed by a signer on the trust list",
        State.VALID: "validly signed by a signer not on the trust list",
        None: "not validated",
    }[state]
    names = ", ".join(source_type_name(value) for value in source_types)
    return f"{signed}; digital source type {names}" if names else signed
