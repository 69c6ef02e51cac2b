"""Read what an image declares about itself, from its original bytes, never decoding a pixel.

Called in a decode thread before the pixels are decoded. Bounded: the image is already under
the upload cap, each block is capped (`core.provenance.containers`), and the stages stop at a
deadline. Never raises on what it reads: a broken manifest becomes "invalid" evidence, a broken
packet or chunk becomes nothing, each logged at debug.
"""

from __future__ import annotations

import logging
import time
from importlib import resources
from typing import Final

from config import ProvenanceSettings
from core.images import sniff_format
from core.provenance import generators
from core.provenance.containers import find_blocks
from core.provenance.credentials import Credentials
from core.provenance.exif import read_exif
from core.provenance.xmp import read_xmp
from core.result import Evidence

log = logging.getLogger(__name__)

BUDGET_S: Final = 0.25  # for the whole read; C2PA validation itself cannot be interrupted
TRUST_LIST: Final = "C2PA-TRUST-LIST.pem"  # shipped beside this module: see the README


def shipped_trust_list() -> str:
    return resources.files("core.provenance").joinpath(TRUST_LIST).read_text(encoding="utf-8")


class ProvenanceReader:
    """Finds Content Credentials, IPTC declarations and generator metadata in image bytes."""

    def __init__(self, settings: ProvenanceSettings) -> None:
        anchors = settings.trust_anchors
        pem = anchors.read_text(encoding="utf-8") if anchors else shipped_trust_list()
        self._credentials = Credentials(pem)

    def read(self, data: bytes) -> tuple[Evidence, ...]:
        """Every declaration found, C2PA first, then XMP, then generator metadata."""
        try:
            return tuple(dict.fromkeys(self._read(data)))
        except Exception:
            log.exception("reading an image's provenance failed; the model alone decides")
            return ()

    def _read(self, data: bytes) -> list[Evidence]:
        fmt = sniff_format(data)
        if fmt is None:
            return []
        deadline = time.monotonic() + BUDGET_S
        blocks = find_blocks(data, fmt, deadline)
        found: list[Evidence] = []
        if blocks.c2pa:
            checked = self._credentials.check(data, fmt, blocks.manifest_bytes)
            found += [checked] if checked is not None else []
        for packet in blocks.xmp:
            if _late(deadline, "XMP"):
                return found
            declared = read_xmp(packet)
            found += [declared] if declared is not None else []
        found += generators.from_texts(blocks.texts)
        for block in blocks.exif:
            if _late(deadline, "EXIF"):
                return found
            found += generators.from_exif(read_exif(block))
        return found


def _late(deadline: float, stage: str) -> bool:
    if time.monotonic() > deadline:
        log.debug("provenance: out of time before %s", stage)
        return True
    return False
