"""IPTC/XMP declarations and generators' own metadata, and what odd or hostile bytes do."""

from __future__ import annotations

import logging
import random
import struct
import zlib
from typing import Any

import pytest

from config import ProvenanceSettings
from core.provenance.containers import TEXT_CAP, XMP_CAP, find_blocks
from core.provenance.exif import read_exif, user_comment
from core.provenance.generators import known_generator
from core.provenance.reader import ProvenanceReader
from core.provenance.xmp import read_xmp
from core.result import Declares, Evidence, Source
from tests.provenance_images import (
    A1111,
    AI,
    AI_COMPOSITE,
    CAPTURE,
    COMFY_PROMPT,
    billion_laughs,
    exif,
    issue,
    make_authority,
    manifest,
    picture,
    png_with_texts,
    sign,
    unicode_comment,
    xmp,
    xmp_attribute,
    xmp_element,
    xmp_resource,
)

FOREVER = float("inf")


@pytest.fixture(scope="module")
def reader() -> ProvenanceReader:
    return ProvenanceReader(ProvenanceSettings())


def only(found: tuple[Evidence, ...]) -> Evidence:
    assert len(found) == 1, found
    return found[0]


class TestXmp:
    @pytest.mark.parametrize("form", [xmp_attribute, xmp_element, xmp_resource])
    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
    def test_each_form_in_each_container(
        self, reader: ProvenanceReader, form: object, fmt: str
    ) -> None:
        """DigitalSourceType as attribute, element or rdf:resource, in JPEG, PNG and WebP."""
        assert callable(form)
        evidence = only(reader.read(picture(fmt, xmp=form(AI))))
        assert (evidence.source, evidence.declares) == (Source.XMP, Declares.AI_GENERATED)
        assert evidence.detail == "IPTC digital source type trainedAlgorithmicMedia"
        assert evidence.declares_ai

    def test_gif_is_searched(self, reader: ProvenanceReader) -> None:
        """A GIF's XMP application extension is found by searching for the packet."""
        gif = picture("GIF", xmp=xmp_element(AI_COMPOSITE))
        assert only(reader.read(gif)).declares is Declares.AI_EDITED

    def test_png_itxt_compressed(self, reader: ProvenanceReader) -> None:
        """A compressed iTXt XMP chunk is inflated and read."""
        png = png_with_texts(
            {"XML:com.adobe.xmp": xmp_resource(AI).decode()}, compressed=True, itxt=True
        )
        assert only(reader.read(png)).declares is Declares.AI_GENERATED

    def test_ai_system_used(self) -> None:
        """AISystemUsed names the generator; alone it still declares AI generation."""
        alternative = (
            "><Iptc4xmpExt:AISystemUsed><rdf:Alt><rdf:li xml:lang='x-default'>"
            "Image Model 3</rdf:li></rdf:Alt></Iptc4xmpExt:AISystemUsed>"
        )
        evidence = read_xmp(xmp(alternative))
        assert evidence is not None
        assert (evidence.declares, evidence.generator) == (Declares.AI_GENERATED, "Image Model 3")
        both = read_xmp(
            xmp(
                f'Iptc4xmpExt:AISystemUsed="Gen 2" Iptc4xmpExt:DigitalSourceType="{AI_COMPOSITE}">'
            )
        )
        assert both is not None
        assert (both.declares, both.generator) == (Declares.AI_EDITED, "Gen 2")

    def test_capture_is_shown_not_counted(self) -> None:
        """digitalCapture is captured: shown, never a declaration of AI."""
        evidence = read_xmp(xmp_attribute(CAPTURE))
        assert evidence is not None
        assert evidence.declares is Declares.CAPTURED
        assert not evidence.declares_ai

    def test_strongest_declaration_wins(self) -> None:
        """Several source types: an AI declaration outweighs a capture."""
        body = f'Iptc4xmpExt:DigitalSourceType="{CAPTURE}"><Iptc4xmpExt:DigitalSourceType>{AI}</Iptc4xmpExt:DigitalSourceType>'
        evidence = read_xmp(xmp(body))
        assert evidence is not None
        assert evidence.declares is Declares.AI_GENERATED

    def test_without_declaration(self) -> None:
        """XMP that says nothing about its source is no evidence."""
        assert (
            read_xmp(xmp('xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg">'))
            is None
        )

    def test_billion_laughs_is_refused(self, caplog: pytest.LogCaptureFixture) -> None:
        """A packet declaring entities is refused before parsing: nothing expands."""
        caplog.set_level(logging.DEBUG, "core.provenance")
        assert read_xmp(billion_laughs()) is None
        assert "refused an XMP packet" in caplog.text

    def test_billion_laughs_in_an_image(self, reader: ProvenanceReader) -> None:
        """The same packet inside a JPEG: the image is read, the packet declares nothing."""
        assert reader.read(picture(xmp=billion_laughs())) == ()

    def test_external_entity_is_refused(self) -> None:
        """No external entity is ever resolved."""
        packet = xmp(
            "><Iptc4xmpExt:AISystemUsed>&x;</Iptc4xmpExt:AISystemUsed>",
            prefix='<!DOCTYPE x [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        )
        assert read_xmp(packet) is None

    def test_size_capped(self, caplog: pytest.LogCaptureFixture) -> None:
        """A packet over the cap is skipped without parsing."""
        caplog.set_level(logging.DEBUG, "core.provenance")
        assert read_xmp(xmp_attribute(AI) + b" " * XMP_CAP) is None
        assert "skipped an XMP packet" in caplog.text

    @pytest.mark.parametrize(
        "packet",
        [
            b"",
            b"<x:xmpmeta",
            b"<x:xmpmeta></x:xmpmeta>",
            b"\xff\xfe<\x00x\x00",
            xmp_attribute(AI)[:-80],
        ],
    )
    def test_broken_packets(self, packet: bytes) -> None:
        """Broken XMP is no evidence, never an error."""
        assert read_xmp(packet) is None


class TestGeneratorMetadata:
    def test_a1111_parameters(self, reader: ProvenanceReader) -> None:
        """AUTOMATIC1111/Forge parameters in a PNG tEXt chunk, with the model named."""
        evidence = only(reader.read(png_with_texts({"parameters": A1111})))
        assert evidence.source is Source.METADATA
        assert evidence.generator == "Stable Diffusion"
        assert evidence.detail == "Stable Diffusion parameters found (model v1-5-pruned-emaonly)"
        assert evidence.declares_ai

    def test_unrelated_parameters_chunk(self, reader: ProvenanceReader) -> None:
        """A `parameters` chunk that is not A1111's declares nothing."""
        assert reader.read(png_with_texts({"parameters": "exposure=2; gamma=1.1"})) == ()

    @pytest.mark.parametrize("compressed", [False, True])
    def test_comfyui(self, reader: ProvenanceReader, compressed: bool) -> None:
        """ComfyUI's prompt and a multi-megabyte workflow: one piece of evidence, read capped."""
        workflow = '{"nodes": [' + ",".join(['{"id": 1, "type": "KSampler"}'] * 120_000) + "]}"
        png = png_with_texts({"prompt": COMFY_PROMPT, "workflow": workflow}, compressed=compressed)
        evidence = only(reader.read(png))
        assert (evidence.generator, evidence.detail) == ("ComfyUI", "ComfyUI workflow found")
        blocks = find_blocks(png, "PNG", FOREVER)
        assert len(blocks.texts["workflow"]) == TEXT_CAP < len(workflow)

    @pytest.mark.parametrize(
        ("texts", "generator"),
        [
            ({"Software": "NovelAI", "Comment": '{"steps": 28, "sampler": "k_euler"}'}, "NovelAI"),
            ({"invokeai_metadata": '{"model": {"name": "sdxl"}}'}, "InvokeAI"),
            (
                {"Description": "a cat --ar 3:2 Job ID: 3f1c0d2a-9b8e-4c1d-8a7b-6e5f4d3c2b1a"},
                "Midjourney",
            ),
            ({"fooocus_scheme": "fooocus", "parameters": '{"prompt": "x"}'}, "Fooocus"),
            ({"Software": "DALL·E 3"}, "DALL-E"),
        ],
    )
    def test_png_generators(
        self, reader: ProvenanceReader, texts: dict[str, str], generator: str
    ) -> None:
        """Each generator's own chunks name it, in tEXt or iTXt alike."""
        for itxt in (False, True):
            assert only(reader.read(png_with_texts(texts, itxt=itxt))).generator == generator

    def test_exif_software(self, reader: ProvenanceReader) -> None:
        """A JPEG whose EXIF Software names a generator."""
        evidence = only(reader.read(picture(exif=exif(software="Midjourney v6"))))
        assert (evidence.generator, evidence.detail) == (
            "Midjourney",
            "EXIF Software names Midjourney",
        )

    @pytest.mark.parametrize(
        "software", ["Adobe Photoshop 25.0 (Windows)", "imagenet-tools 1.2", "GIMP 2.10"]
    )
    def test_ordinary_software(self, reader: ProvenanceReader, software: str) -> None:
        """Editors and look-alike names are not generators."""
        assert reader.read(picture(exif=exif(software=software))) == ()

    @pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
    @pytest.mark.parametrize("order", ["be", "le"])
    def test_a1111_user_comment(self, reader: ProvenanceReader, fmt: str, order: str) -> None:
        """A1111 parameters in the EXIF UserComment of a JPEG or WebP, either byte order."""
        image = picture(fmt, exif=exif(user_comment=unicode_comment(A1111, order)))
        assert only(reader.read(image)).generator == "Stable Diffusion"

    def test_user_comment_codes(self) -> None:
        """UserComment's character codes: ASCII, undefined (UTF-8) and JIS."""
        assert user_comment(b"ASCII\x00\x00\x00Steps: 1") == "Steps: 1"
        assert user_comment(b"\x00" * 8 + "é".encode()) == "é"
        assert user_comment(b"JIS\x00\x00\x00\x00\x00" + "画像".encode("shift_jis")) == "画像"

    @pytest.mark.parametrize(
        ("name", "known"),
        [
            ("Adobe_Firefly", "Adobe Firefly"),
            ("ChatGPT", "ChatGPT"),
            ("stable-diffusion-webui", "Stable Diffusion"),
            ("Fireflyer", None),
            ("Photoshop", None),
        ],
    )
    def test_known_generators(self, name: str, known: str | None) -> None:
        """Names match whole words, `_` and `-` allowed around them."""
        assert known_generator(name) == known

    def test_everything_together(self, reader: ProvenanceReader) -> None:
        """C2PA first, then XMP, then metadata; each source its own piece of evidence."""
        authority = make_authority()
        image = picture(xmp=xmp_attribute(AI), exif=exif(software="NovelAI"))
        signed = sign(image, issue(authority, "Lab"), manifest(AI))
        assert [e.source for e in reader.read(signed)] == [
            Source.C2PA,
            Source.XMP,
            Source.METADATA,
        ]


class TestOddBytes:
    """Nothing a stranger sends makes reading raise, loop, or grow past its caps."""

    def test_zip_bomb_text_chunk(self) -> None:
        """A zTXt chunk inflating to 200 MB is inflated only up to the cap."""
        bomb = zlib.compress(b"A" * 200_000_000, 9)
        png = picture("PNG")
        chunk = b"zTXtparameters\x00\x00" + bomb
        payload = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
        blocks = find_blocks(png[:33] + payload + png[33:], "PNG", FOREVER)
        assert len(blocks.texts["parameters"]) == TEXT_CAP

    def test_chunk_longer_than_the_file(self, reader: ProvenanceReader) -> None:
        """A chunk claiming more bytes than there are stops the walk."""
        png = picture("PNG")
        liar = png[:33] + struct.pack(">I", 2**31) + b"tEXt" + b"parameters\x00x"
        assert reader.read(liar) == ()
        assert not find_blocks(liar, "PNG", FOREVER).complete

    def test_deadline_stops_the_walk(self) -> None:
        """Past its deadline a walk through many chunks stops early, marked incomplete."""
        png = picture("PNG")
        noise = b"".join(struct.pack(">I", 0) + b"teSt" + b"\x00" * 4 for _ in range(1000))
        blocks = find_blocks(png[:33] + noise + png[33:], "PNG", deadline=0.0)
        assert not blocks.complete

    def test_broken_manifest_is_invalid(self, reader: ProvenanceReader) -> None:
        """An APP11 JUMBF segment of garbage is a manifest that cannot be read: invalid."""
        jpeg = picture()
        junk = b"JP\x00\x00\x00\x00\x00\x01" + b"\x00\x00\x00\x20jumb" + b"c2pa" * 20
        segment = b"\xff\xeb" + struct.pack(">H", len(junk) + 2) + junk
        evidence = only(reader.read(jpeg[:2] + segment + jpeg[2:]))
        assert (evidence.source, evidence.declares) == (Source.C2PA, Declares.UNKNOWN)
        assert evidence.state is not None
        assert not evidence.declares_ai

    @pytest.mark.parametrize(
        "block",
        [
            b"",
            b"Exif\x00\x00",
            b"MM\x00*\xff\xff\xff\xff",
            b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\x00" * 40,
        ],
    )
    def test_broken_exif(self, block: bytes) -> None:
        """Offsets past the end, absurd counts: an empty reading."""
        assert read_exif(block) == read_exif(b"")

    def test_exif_pointing_at_itself(self) -> None:
        """An EXIF IFD pointer back to IFD0 does not loop."""
        entries = struct.pack("<HHII", 0x8769, 4, 1, 8)
        block = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entries + b"\x00" * 4
        assert read_exif(block).user_comment is None

    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
    def test_mutated_files(
        self, reader: ProvenanceReader, fmt: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Hundreds of randomly damaged tagged (and signed) files: nothing escapes or is logged."""
        options: dict[str, Any] = {"xmp": xmp_element(AI)}
        if fmt != "GIF":
            options["exif"] = exif("NovelAI", unicode_comment(A1111))
        source = picture(fmt, **options)
        if fmt in ("JPEG", "PNG"):
            identity = issue(make_authority(), "Lab")
            source = sign(source, identity, manifest(AI), mime=f"image/{fmt.lower()}")
        rng = random.Random(fmt)
        for _ in range(300):
            damaged = bytearray(source)
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            if rng.random() < 0.3:
                del damaged[rng.randrange(len(damaged)) :]
            found = reader.read(bytes(damaged))
            assert all(isinstance(e, Evidence) for e in found)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"\x89PNG\r\n\x1a\n",
            b"\xff\xd8\xff",
            b"RIFF\xff\xff\xff\xffWEBP",
            b"GIF89a" + b"c2pa" * 4,
            b"not an image",
        ],
    )
    def test_fragments(self, reader: ProvenanceReader, data: bytes) -> None:
        """Fragments and strangers (a GIF with "c2pa" in it by chance too) read as nothing."""
        assert reader.read(data) == ()
