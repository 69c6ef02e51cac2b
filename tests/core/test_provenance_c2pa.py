"""Content Credentials: signed in the test by c2pa-python, checked against the anchors setting."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import ProvenanceSettings, Settings
from core.provenance.credentials import Credentials, evidence_from_store
from core.provenance.reader import ProvenanceReader, shipped_trust_list
from core.result import Declares, Evidence, Source, State
from tests.provenance_images import (
    AI,
    AI_COMPOSITE,
    CAPTURE,
    DIGITAL_ART,
    Authority,
    Identity,
    flip_scan_bytes,
    issue,
    make_authority,
    manifest,
    picture,
    reencode,
    remote_only,
    sign,
)


@pytest.fixture(scope="module")
def authority() -> Authority:
    return make_authority()


@pytest.fixture(scope="module")
def identity(authority: Authority) -> Identity:
    return issue(authority, "Example AI Lab")


@pytest.fixture
def trusting(authority: Authority, tmp_path: Path) -> ProvenanceReader:
    """A reader whose anchors setting names the test CA."""
    return ProvenanceReader(ProvenanceSettings(trust_anchors=authority.write(tmp_path / "a.pem")))


@pytest.fixture(scope="module")
def shipped() -> ProvenanceReader:
    """A reader with the default anchors: the shipped C2PA trust list, which lacks the test CA."""
    return ProvenanceReader(ProvenanceSettings())


def only(found: tuple[Evidence, ...]) -> Evidence:
    assert len(found) == 1, found
    return found[0]


class TestReading:
    def test_trusted_ai_manifest(self, trusting: ProvenanceReader, identity: Identity) -> None:
        """A manifest from a trusted signer: its state, generator, signer and AI declaration."""
        signed = sign(picture(), identity, manifest(AI, generator="Example Image Maker"))
        evidence = only(trusting.read(signed))
        assert evidence.source is Source.C2PA
        assert evidence.state is State.TRUSTED
        assert evidence.declares is Declares.AI_GENERATED
        assert evidence.generator == "Example Image Maker"
        assert evidence.signer == "Example AI Lab"
        assert "trainedAlgorithmicMedia" in evidence.detail
        assert evidence.declares_ai

    def test_untrusted_signer_is_valid(
        self, shipped: ProvenanceReader, identity: Identity
    ) -> None:
        """A good signature from a signer outside the anchors is `valid`, and still counts."""
        evidence = only(shipped.read(sign(picture(), identity, manifest(AI))))
        assert evidence.state is State.VALID
        assert evidence.declares_ai
        assert "not on the trust list" in evidence.detail

    def test_composite_is_ai_edited(self, trusting: ProvenanceReader, identity: Identity) -> None:
        """compositeWithTrainedAlgorithmicMedia declares an AI edit."""
        evidence = only(trusting.read(sign(picture(), identity, manifest(AI_COMPOSITE))))
        assert evidence.declares is Declares.AI_EDITED
        assert evidence.declares_ai

    def test_capture_declares_no_ai(self, trusting: ProvenanceReader, identity: Identity) -> None:
        """A camera-signed capture is shown as captured and declares nothing about AI."""
        evidence = only(trusting.read(sign(picture(), identity, manifest(CAPTURE, "Camera"))))
        assert (evidence.declares, evidence.state) == (Declares.CAPTURED, State.TRUSTED)
        assert not evidence.declares_ai

    def test_known_generator_without_source_type(
        self, trusting: ProvenanceReader, identity: Identity
    ) -> None:
        """A manifest from a known AI generator declares AI whatever its source type says."""
        signed = sign(picture(), identity, manifest(DIGITAL_ART, "Midjourney"))
        evidence = only(trusting.read(signed))
        assert evidence.declares is Declares.AI_GENERATED

    def test_other_generator_without_source_type(
        self, trusting: ProvenanceReader, identity: Identity
    ) -> None:
        """A source type outside capture, edit and AI, from an editor, declares `unknown`."""
        signed = sign(picture(), identity, manifest(DIGITAL_ART, "Photo Editor"))
        evidence = only(trusting.read(signed))
        assert evidence.declares is Declares.UNKNOWN
        assert not evidence.declares_ai

    def test_png(self, trusting: ProvenanceReader, identity: Identity) -> None:
        """PNG carries its manifest in a caBX chunk."""
        signed = sign(picture("PNG"), identity, manifest(AI), mime="image/png")
        assert only(trusting.read(signed)).state is State.TRUSTED

    def test_tampered_is_invalid(self, trusting: ProvenanceReader, identity: Identity) -> None:
        """Changed image bytes fail the manifest's hash: invalid, and no proof of anything."""
        signed = sign(picture(size=(160, 120)), identity, manifest(AI))
        evidence = only(trusting.read(flip_scan_bytes(signed)))
        assert evidence.state is State.INVALID
        assert not evidence.declares_ai
        assert "tampered" in evidence.detail
        assert "dataHash.mismatch" in evidence.detail

    def test_reencoded_has_nothing(self, trusting: ProvenanceReader, identity: Identity) -> None:
        """A re-encoded copy (what chat apps do to photos) has lost its manifest."""
        assert trusting.read(reencode(sign(picture(), identity, manifest(AI)))) == ()

    def test_no_metadata_means_nothing(self, shipped: ProvenanceReader) -> None:
        """A plain picture declares nothing."""
        assert shipped.read(picture()) == ()
        assert shipped.read(picture("PNG")) == ()


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        """Silent."""


@pytest.fixture
def remote_server() -> Iterator[tuple[str, type[_Counter]]]:
    """A loopback server that counts requests: where a remote manifest would be fetched from."""

    class Counter(_Counter):
        hits = 0

    server = http.server.HTTPServer(("127.0.0.1", 0), Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/manifest.c2pa", Counter
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_remote_manifest_is_never_fetched(
    remote_server: tuple[str, type[_Counter]], identity: Identity, shipped: ProvenanceReader
) -> None:
    """An image pointing at a manifest elsewhere: even asked directly, the library fetches nothing."""
    url, counter = remote_server
    image = remote_only(picture(), identity, url)
    assert Credentials(shipped_trust_list()).check(image, "JPEG", 0) is None
    assert shipped.read(image) == ()
    assert counter.hits == 0


class TestStore:
    """The library's JSON, as odd as it may come, never breaks the reading."""

    @pytest.mark.parametrize(
        "store",
        [None, [], {}, {"manifests": []}, {"active_manifest": "x", "manifests": {"x": "text"}}],
    )
    def test_odd_stores(self, store: object) -> None:
        """A store without a usable active manifest is unknown evidence."""
        assert evidence_from_store(store).declares is Declares.UNKNOWN

    def test_odd_assertions(self) -> None:
        """Assertions of the wrong shape are skipped; good ones still count."""
        store = {
            "validation_state": "Valid",
            "active_manifest": "m",
            "manifests": {
                "m": {
                    "claim_generator": "Legacy/1.0 c2pa-rs/0.1",
                    "signature_info": {"common_name": "Signer CN"},
                    "assertions": [
                        "text",
                        {"label": "c2pa.actions", "data": {"actions": "none"}},
                        {"label": "c2pa.actions", "data": {"actions": [1, {"x": 1}]}},
                        {
                            "label": "c2pa.actions.v2__1",
                            "data": {"actions": [{"digitalSourceType": AI}]},
                        },
                    ],
                }
            },
        }
        evidence = evidence_from_store(store)
        assert evidence.declares is Declares.AI_GENERATED
        assert (evidence.generator, evidence.signer) == ("Legacy/1.0 c2pa-rs/0.1", "Signer CN")


def test_anchors_setting_must_be_pem(tmp_path: Path) -> None:
    """DEEPGUARD_PROVENANCE__TRUST_ANCHORS names a PEM file of certificates, or is refused."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValueError, match="PEM"):
        ProvenanceSettings(trust_anchors=junk)
    with pytest.raises(ValueError, match="trust_anchors"):
        Settings(_env_file=None, provenance={"trust_anchors": str(tmp_path / "missing.pem")})


def test_shipped_trust_list_is_certificates() -> None:
    """The shipped C2PA trust list is a PEM bundle that the C2PA library accepts."""
    pem = shipped_trust_list()
    assert pem.count("-----BEGIN CERTIFICATE-----") >= 10
    Credentials(pem)
