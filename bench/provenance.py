"""What reading provenance adds to judging one image: `ProvenanceReader.read`, timed.

It runs in the decode thread before the pixels are decoded, so its time adds to every request.
The goal: at most 5 ms median on a 12 MP JPEG without metadata. For scale the script also times
the full decode of that photo, and reads of files that do carry metadata: XMP and EXIF, a PNG
with a 4 MB ComfyUI workflow, and a 12 MP JPEG with a C2PA manifest (validation hashes the file):

    .venv/bin/python -m bench.provenance             # ~1 minute on 2 cores
    .venv/bin/python -m bench.provenance --runs 20   # quicker, noisier
"""

from __future__ import annotations

import argparse
import functools
import io
import statistics
import time
from collections.abc import Callable, Sequence

from PIL import Image, PngImagePlugin

from bench.assets import synthetic_photo
from bench.machine import describe
from config import ImageLimits, ProvenanceSettings
from core.images import decode_image
from core.provenance.reader import ProvenanceReader

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    f'Iptc4xmpExt:DigitalSourceType="{AI}"/></rdf:RDF></x:xmpmeta>'
).encode()


def _jpeg(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def _comfyui_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", '{"3": {"class_type": "KSampler", "inputs": {}}}')
    info.add_text("workflow", '{"nodes": [' + ",".join(['{"id": 1}'] * 400_000) + "]}", zip=True)
    out = io.BytesIO()
    synthetic_photo((1024, 1024), seed=2).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _signed(photo: bytes) -> bytes:
    """A C2PA manifest from a throwaway CA (the test suite's helper: needs `cryptography`)."""
    from tests.provenance_images import issue, make_authority, manifest, sign

    return sign(photo, issue(make_authority(), "Bench Lab"), manifest(AI))


def _times_ms(work: Callable[[], object], runs: int) -> list[float]:
    work()  # first call: imports, the C2PA library's own set-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.provenance", description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="timed reads per file")
    args = parser.parse_args(argv)
    reader = ProvenanceReader(ProvenanceSettings())
    photo_image = synthetic_photo((4000, 3000), seed=1)
    photo = _jpeg(photo_image)
    files = {
        "12 MP JPEG, no metadata": photo,
        "12 MP JPEG, XMP + EXIF Software": _jpeg(
            photo_image, xmp=XMP, exif=_software_exif("Midjourney")
        ),
        "1 MP PNG, ComfyUI 4 MB workflow (zTXt)": _comfyui_png(),
        "12 MP JPEG, C2PA manifest": _signed(photo),
    }
    rows = []
    for name, data in files.items():
        sources = ", ".join(e.source.value for e in reader.read(data)) or "-"
        rows.append(
            (name, len(data), _times_ms(functools.partial(reader.read, data), args.runs), sources)
        )
    decode = _times_ms(lambda: decode_image(photo, ImageLimits()), max(3, args.runs // 20))
    print("| file | bytes | read median ms | p95 ms | found |")
    print("|---|---:|---:|---:|---|")
    for name, size, times, found in rows:
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"| {name} | {size:,} | {statistics.median(times):.3f} | {p95:.3f} | {found} |")
    print(f"\nfull decode of the 12 MP JPEG, for scale: median {statistics.median(decode):.0f} ms")
    print("\n".join(describe()))
    return 0


def _software_exif(software: str) -> bytes:
    exif = Image.Exif()
    exif[0x0131] = software
    return exif.tobytes()


if __name__ == "__main__":
    raise SystemExit(main())
