"""`deepguard backends`: measure every backend here, print the table and the recommendation.

An operator's tool: its table and messages stay English, like the rest of the command line.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from config import ModelSettings
from core.backends.cpu import cpu_features
from core.backends.survey import BACKENDS, MEDIAN_DP_BOUND, recommend, sample_photos, survey, table

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
MOST_IMAGES = 32


class NoImages(Exception):
    """The folder given has no image files to measure with."""


def run(settings: ModelSettings, folder: Path | None) -> int:
    """Print the CPU, the table and the recommendation; exit status 2 on a bad folder."""
    try:
        images = _images(folder) if folder is not None else sample_photos()
    except NoImages as exc:
        print(f"deepguard: {exc}", file=sys.stderr)
        return 2
    cpu = cpu_features()
    print(f"CPU features: {cpu.describe()}")
    print(f"model: {settings.name}; {len(images)} images, each judged at 1 and 8 in flight\n")
    with tqdm(total=len(BACKENDS), unit="backend", file=sys.stderr) as bar:
        rows = survey(settings, images, cpu, progress=lambda backend: _advance(bar, backend))
        bar.update(bar.total - bar.n)
    print(table(rows))
    best = recommend(rows)
    print(
        f"\nrecommended: DEEPGUARD_MODEL__BACKEND={best.backend} "
        f"(the fastest here whose median |dp| stays within {MEDIAN_DP_BOUND})"
    )
    return 0


def _advance(bar: tqdm[None], backend: str) -> None:
    """Count the backend just finished (if any) and name the one starting."""
    if bar.desc:
        bar.update(1)
    bar.set_description(backend)


def _images(folder: Path) -> list[bytes]:
    if not folder.is_dir():
        raise NoImages(f"{folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise NoImages(f"{folder} has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    images = [data for data in map(_read, files[:MOST_IMAGES]) if data is not None]
    if not images:
        raise NoImages(f"none of the images in {folder} could be read")
    return images


def _read(path: Path) -> bytes | None:
    """The file's bytes if Pillow can read it (every backend must judge every image)."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (OSError, ValueError, Image.DecompressionBombError):
        print(f"skipping {path.name}: not a readable image", file=sys.stderr)
        return None
    return data
