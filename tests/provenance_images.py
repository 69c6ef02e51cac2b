"""Images that declare things about themselves, made in the test: signed, tagged, or both.

C2PA: a test CA and a leaf it issues (ES256; digitalSignature key usage, the emailProtection
EKU, subject and authority key identifiers: what the C2PA library accepts), then c2pa-python's
own `Builder` and `Signer` with no timestamp authority. The CA is trusted by writing its PEM to
a file for `DEEPGUARD_PROVENANCE__TRUST_ANCHORS`. Metadata: XMP packets in each IPTC form, PNG
text chunks as generators write them, EXIF through Pillow.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image, PngImagePlugin

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
AI_COMPOSITE = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
DIGITAL_ART = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"

A1111 = (
    "a lighthouse at dusk, oil painting\n"
    "Negative prompt: blurry\n"
    "Steps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 42, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"
)
COMFY_PROMPT = (
    '{"3": {"class_type": "KSampler", "inputs": {"seed": 1}}, '
    '"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}}}'
)


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pem)
        return path


@dataclass(frozen=True)
class Identity:
    """A signing certificate chain and its key, in PEM."""

    chain: bytes
    key: bytes


def _name(common: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_authority(name: str = "DeepGuard Test Root") -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name, name))
        .issuer_name(_name(name, name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def issue(authority: Authority, organisation: str, common: str = "Image Signer") -> Identity:
    """A leaf certificate for C2PA signing, issued by `authority`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    issuer_key = authority.key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common, organisation))
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False
        )
        .sign(authority.key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + authority.pem
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Identity(chain, private)


def manifest(source_type: str, generator: str = "Test Generator") -> dict[str, Any]:
    """A manifest whose one `c2pa.created` action declares `source_type`."""
    action = {"action": "c2pa.created", "digitalSourceType": source_type}
    return {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": "image",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


def sign(
    image: bytes, identity: Identity, definition: dict[str, Any], mime: str = "image/jpeg"
) -> bytes:
    """`image` with an embedded manifest, signed by `identity` (no timestamp authority)."""
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain, identity.key, None)
    signed = io.BytesIO()
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(definition) as builder:
        builder.sign(signer, mime, io.BytesIO(image), signed)
    return signed.getvalue()


def remote_only(image: bytes, identity: Identity, url: str) -> bytes:
    """`image` pointing at a manifest stored at `url`, none embedded."""
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain, identity.key, None)
    signed = io.BytesIO()
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest(AI)) as builder:
        builder.set_no_embed()
        builder.set_remote_url(url)
        builder.sign(signer, "image/jpeg", io.BytesIO(image), signed)
    return signed.getvalue()


def flip_scan_bytes(jpeg: bytes) -> bytes:
    """The same file with two bytes of its image data changed: the manifest's hash fails."""
    tampered = bytearray(jpeg)
    where = len(tampered) - 40  # inside the last scan, before the end marker
    tampered[where] ^= 0xFF
    tampered[where + 1] ^= 0x0F
    return bytes(tampered)


def reencode(image: bytes, fmt: str = "JPEG") -> bytes:
    """What a chat app does to a photo: decode and save again, metadata gone."""
    out = io.BytesIO()
    Image.open(io.BytesIO(image)).convert("RGB").save(out, fmt, quality=85)
    return out.getvalue()


def picture(
    fmt: str = "JPEG", red: int = 25, size: tuple[int, int] = (64, 48), **save: Any
) -> bytes:
    """A plain picture (red sets `FakeClassifier`'s probability), saved with `save` options.

    `xmp=` works for every format here: PNG gets an iTXt chunk, GIF an XMP application
    extension (Pillow writes XMP itself only into JPEG and WebP).
    """
    packet = save.pop("xmp", None) if fmt in ("PNG", "GIF") else None
    if packet is not None and fmt == "PNG":
        info = save.setdefault("pnginfo", PngImagePlugin.PngInfo())
        info.add_itxt("XML:com.adobe.xmp", packet.decode())
    out = io.BytesIO()
    Image.new("RGB", size, (red, 90, 160)).save(out, fmt, **save)
    data = out.getvalue()
    if packet is not None and fmt == "GIF":
        # Application extension "XMP DataXMP", the packet, then the 258-byte "magic trailer".
        trailer = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
        extension = b"\x21\xff\x0bXMP DataXMP" + packet + trailer
        data = data[:-1] + extension + data[-1:]
    return data


def png_with_texts(
    texts: dict[str, str], *, compressed: bool = False, itxt: bool = False
) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        if itxt:
            info.add_itxt(key, value, zip=compressed)
        else:
            info.add_text(key, value, zip=compressed)
    return picture("PNG", pnginfo=info)


def exif(software: str | None = None, user_comment: bytes | None = None) -> bytes:
    data = Image.Exif()
    if software is not None:
        data[0x0131] = software
    if user_comment is not None:
        data.get_ifd(0x8769)[0x9286] = user_comment
    return data.tobytes()


def unicode_comment(text: str, byte_order: str = "be") -> bytes:
    return b"UNICODE\x00" + text.encode(f"utf-16-{byte_order}")


def xmp(body: str, prefix: str = "") -> bytes:
    """An XMP packet whose rdf:Description holds `body` (`prefix` goes before the packet)."""
    return (
        f'{prefix}<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f"{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def xmp_attribute(source_type: str) -> bytes:
    return xmp(f'Iptc4xmpExt:DigitalSourceType="{source_type}">')


def xmp_element(source_type: str) -> bytes:
    return xmp(f"><Iptc4xmpExt:DigitalSourceType>{source_type}</Iptc4xmpExt:DigitalSourceType>")


def xmp_resource(source_type: str) -> bytes:
    return xmp(f'><Iptc4xmpExt:DigitalSourceType rdf:resource="{source_type}"/>')


def billion_laughs() -> bytes:
    """An XMP packet whose entities would expand to about 3 GB (10 levels of 10)."""
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 11)
    ]
    doctype = "<!DOCTYPE x:xmpmeta [" + "".join(entities) + "]>"
    return xmp("><Iptc4xmpExt:AISystemUsed>&lol10;</Iptc4xmpExt:AISystemUsed>", prefix=doctype)
