"""IPTC declarations in an XMP packet: `Iptc4xmpExt:DigitalSourceType` and `AISystemUsed`.

A digital source type may be written as an attribute, as an element's text, or as an element's
`rdf:resource`; all three are read. XMP arrives from strangers, so the packet is parsed only
without a document type declaration (no entity can expand: no billion laughs, no external
entity), after a size cap.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Final

from core.provenance.containers import XMP_CAP
from core.provenance.iptc import declares, source_type_name, strongest
from core.result import Declares, Evidence, Source

log = logging.getLogger(__name__)

_RDF: Final = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_IPTC_EXT: Final = "{http://iptc.org/std/Iptc4xmpExt/"  # any schema version after it
_SOURCE_TYPE: Final = "DigitalSourceType"
_AI_SYSTEM: Final = "AISystemUsed"
_ROOTS: Final = (("<x:xmpmeta", "</x:xmpmeta>"), ("<x:xapmeta", "</x:xapmeta>"))
_RDF_ROOT: Final = ("<rdf:RDF", "</rdf:RDF>")


def read_xmp(packet: bytes) -> Evidence | None:
    """The packet's IPTC declaration, or None if it makes none or cannot be read safely."""
    if len(packet) > XMP_CAP:
        log.debug("skipped an XMP packet of %d bytes", len(packet))
        return None
    text = packet.decode("utf-8", "replace")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        log.debug("refused an XMP packet with a document type or entity declaration")
        return None
    root = _parse(text)
    if root is None:
        return None
    source_types: list[str] = []
    systems: list[str] = []
    for element in root.iter():
        for name, value in element.attrib.items():
            if _is(name, _SOURCE_TYPE):
                source_types.append(value)
            elif _is(name, _AI_SYSTEM):
                systems.append(value)
        if _is(element.tag, _SOURCE_TYPE):
            source_types.append(element.get(f"{_RDF}resource") or _text(element))
        elif _is(element.tag, _AI_SYSTEM):
            systems.append(_text(element))
    source_types = [value for value in source_types if value.strip()]
    systems = [value for value in systems if value.strip()]
    if not source_types and not systems:
        return None
    found = strongest(declares(value) for value in source_types)
    if not source_types:
        found = Declares.AI_GENERATED  # the AI system "used to generate this image" (IPTC)
    names = ", ".join(dict.fromkeys(source_type_name(value) for value in source_types))
    detail = "; ".join(
        part
        for part in (
            f"IPTC digital source type {names}" if names else "",
            f"AI system used: {systems[0]}" if systems else "",
        )
        if part
    )
    generator = systems[0].strip() if systems else None
    return Evidence(Source.XMP, found, generator=generator, detail=detail)


def _parse(text: str) -> ET.Element | None:
    """Parse only the XMP element itself, so a packet's wrapper and padding cannot interfere."""
    for start_tag, end_tag in (*_ROOTS, _RDF_ROOT):
        start = text.find(start_tag)
        end = text.find(end_tag, max(start, 0))
        if start >= 0 and end >= 0:
            try:
                return ET.fromstring(text[start : end + len(end_tag)])
            except ET.ParseError as exc:
                log.debug("an XMP packet does not parse: %s", exc)
                return None
    return None


def _is(name: str, local: str) -> bool:
    return name.startswith(_IPTC_EXT) and name.endswith("}" + local)


def _text(element: ET.Element) -> str:
    """An element's own text, or its first `rdf:li` (a language alternative or a list)."""
    if element.text and element.text.strip():
        return element.text.strip()
    for item in element.iter(f"{_RDF}li"):
        if item.text and item.text.strip():
            return item.text.strip()
    return ""
