"""`deepguard check` on animations and videos, with the tiny real model, as users run it.

Each clip is made of known pictures with a lossless codec, and the same pictures are saved as
PNG: every sampled frame's probability must be what `deepguard check` says of that picture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bots.cli import main
from tests.judges import CHECK_JSON_FIELDS
from tests.sample_clips import (
    LOSSLESS_MKV,
    LOSSLESS_MP4,
    Frame,
    animation_bytes,
    audio_only,
    noise_frames,
    video_bytes,
)

INDICES_OF_16 = [0, 2, 4, 6, 8, 10, 12, 14]  # 8 samples of 16 frames


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer `.env` or DEEPGUARD_* variable leaks into these runs."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("DEEPGUARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DEEPGUARD_MODEL__OFFLINE", "true")
    monkeypatch.setenv("DEEPGUARD_MODEL__THREADS", "1")


def palette_frames(count: int, side: int = 32, seed: int = 5) -> list[Frame]:
    """Pictures of 64 colours at most: a GIF keeps them exactly."""
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 4, (side, side, 3)) * 85).astype(np.uint8) for _ in range(count)]


def check_json(
    model_dir: Path, files: list[Path], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]]]:
    status = main(["check", "--json", "--model", str(model_dir), *map(str, files)])
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def save_pngs(frames: list[Frame], folder: Path) -> list[Path]:
    folder.mkdir()
    paths = [folder / f"{number:02d}.png" for number in range(len(frames))]
    for frame, path in zip(frames, paths, strict=True):
        Image.fromarray(frame).save(path)
    return paths


@pytest.mark.parametrize(
    ("name", "make", "media"),
    [
        ("clip.mp4", lambda f: video_bytes(f, LOSSLESS_MP4), "video"),
        ("clip.mkv", lambda f: video_bytes(f, LOSSLESS_MKV), "video"),
        ("clip.gif", lambda f: animation_bytes(f, "GIF", 40), "animation"),
        ("clip.png", lambda f: animation_bytes(f, "PNG", 40), "animation"),
        ("clip.webp", lambda f: animation_bytes(f, "WEBP", 40), "animation"),
    ],
)
def test_each_frame_scores_as_its_picture(
    tmp_path: Path,
    model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    make: Callable[[list[Frame]], bytes],
    media: str,
) -> None:
    """A clip's sampled frames score exactly as `deepguard check` scores each picture."""
    frames = palette_frames(16) if name.endswith(".gif") else noise_frames(16, side=32)
    clip = tmp_path / name
    clip.write_bytes(make(frames))
    pictures = save_pngs(frames, tmp_path / "frames")
    status, lines = check_json(model_dir, [clip, *pictures], capsys)
    assert status == 0
    answer, photos = lines[0], lines[1:]
    assert answer["media"] == media
    assert answer["frames_decoded"] == 8
    assert answer["duration_s"] == pytest.approx(16 * 0.04)
    sampled = answer["frames"]
    assert isinstance(sampled, list)
    assert [frame["index"] for frame in sampled] == INDICES_OF_16
    assert [frame["time_s"] for frame in sampled] == pytest.approx(
        [i * 0.04 for i in INDICES_OF_16]
    )
    for frame in sampled:
        picture = photos[frame["index"]]
        assert picture["media"] == "image"
        assert frame["fake_probability"] == pytest.approx(picture["fake_probability"], abs=1e-5)
    scores = sorted((frame["fake_probability"] for frame in sampled), reverse=True)
    assert answer["fake_probability"] == pytest.approx(sum(scores[:2]) / 2, abs=1e-5)
    assert (answer["verdict"] == "FAKE") == (answer["fake_probability"] >= 0.5)


def test_photo_answer_is_unchanged_but_for_media(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A still image keeps today's fields and gains `"media": "image"` only."""
    picture = save_pngs(noise_frames(1, side=32), tmp_path / "one")[0]
    _, [answer] = check_json(model_dir, [picture], capsys)
    assert set(answer) == {"file", *CHECK_JSON_FIELDS}
    assert answer["media"] == "image"


def test_video_settings_and_refusals(
    tmp_path: Path,
    model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FRAMES and the byte caps are settings; a video may exceed the image cap, not its own."""
    monkeypatch.setenv("DEEPGUARD_VIDEO__FRAMES", "4")
    monkeypatch.setenv("DEEPGUARD_IMAGES__MAX_BYTES", "2000")
    video = tmp_path / "a.mkv"
    video.write_bytes(video_bytes(noise_frames(16, side=32), LOSSLESS_MKV))
    assert video.stat().st_size > 2000
    sound = tmp_path / "b.webm"
    sound.write_bytes(audio_only("webm"))
    status, lines = check_json(model_dir, [video, sound], capsys)
    assert status == 2
    assert [frame["index"] for frame in lines[0]["frames"]] == [0, 4, 8, 12]
    assert lines[1] == {"file": str(sound), "error": "there is no picture in this file"}
    monkeypatch.setenv("DEEPGUARD_VIDEO__MAX_BYTES", "2000")
    _, [refused] = check_json(model_dir, [video], capsys)
    assert refused == {"file": str(video), "error": "the video is too large (limit 1 KB)"}


def test_table_names_the_clip(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json a clip's line says what it was, its frames and its worst moment."""
    clip = tmp_path / "c.webp"
    clip.write_bytes(animation_bytes(noise_frames(16, side=32), "WEBP", 500))
    assert main(["check", "--model", str(model_dir), str(clip)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert "(animation, 8 frames, most suspicious at 0:" in line
    assert line.startswith(("FAKE", "REAL"))
