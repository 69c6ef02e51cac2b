"""The video benchmark's inputs, made once and kept in the work directory.

- `ClipSet`: H.264 MP4s as phones and sites send them (1080p, 30 fps, a keyframe every 2 s,
  x264 at crf 23), each a different synthetic scene panning with fresh sensor noise per frame,
  so no two clips share a frame (identical frames would be judged once and flatter the figures);
- `GifSpec`: a long, large GIF (2000 frames of 1024x1024 by default, under the 25 MB image cap)
  whose every frame changes the whole canvas, so stepping through it costs a full frame each;
- the frames DeepGuard samples from each clip, saved as PNG, for the model card's loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.stream import VideoStream
from PIL import Image

from bench.assets import synthetic_photo
from config import ImageLimits, VideoSettings
from core.preprocess import PixelArray
from core.sampling import Budget, FrameSink
from core.video import decode_video


@dataclass(frozen=True, slots=True)
class ClipSet:
    count: int
    seconds: int
    size: tuple[int, int]
    fps: int = 30
    gop: int = 60
    crf: int = 23

    @property
    def name(self) -> str:
        width, height = self.size
        return f"clips-{width}x{height}-{self.seconds}s-{self.fps}fps-g{self.gop}-crf{self.crf}"


@dataclass(frozen=True, slots=True)
class GifSpec:
    frames: int
    side: int
    delay_ms: int = 40


def ensure_clips(workdir: Path, spec: ClipSet) -> list[Path]:
    folder = workdir / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(spec.count):
        path = folder / f"clip-{index:02d}.mp4"
        if not path.exists():
            partial = path.with_name(path.name + ".part")
            _encode_clip(partial, spec, seed=index)
            partial.rename(path)
        paths.append(path)
    return paths


def _encode_clip(path: Path, spec: ClipSet, seed: int) -> None:
    width, height = spec.size
    margin_x, margin_y = width // 4, height // 4
    scene = np.asarray(synthetic_photo((width + 2 * margin_x, height + 2 * margin_y), seed))
    rng = np.random.default_rng(seed)
    noise = [rng.normal(0, 3, (height, width, 3)).astype(np.int16) for _ in range(7)]
    with av.open(str(path), mode="w", format="mp4") as muxer:
        stream = muxer.add_stream("libx264", rate=spec.fps)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": str(spec.crf), "g": str(spec.gop)}
        for number in range(spec.seconds * spec.fps):
            x = int(margin_x * (1 + np.sin(number / 40)))
            y = int(margin_y * (1 + np.cos(number / 55)))
            view = scene[y : y + height, x : x + width].astype(np.int16) + noise[number % 7]
            frame = av.VideoFrame.from_ndarray(
                np.clip(view, 0, 255).astype(np.uint8), format="rgb24"
            )
            muxer.mux(stream.encode(frame))
        muxer.mux(stream.encode())


def ensure_gif(workdir: Path, spec: GifSpec) -> Path:
    path = workdir / f"animation-{spec.frames}x{spec.side}.gif"
    if path.exists():
        return path
    side = spec.side
    y, x = np.arange(side)[:, None], np.arange(side)[None, :]
    palette = [channel for i in range(256) for channel in (i, (i * 3) % 256, 255 - i)]
    frames = []
    for number in range(spec.frames):
        bands = ((x + 5 * number) // (side // 4)) % 4 + ((y // (side // 2)) % 2) * 4
        frame = Image.fromarray((bands + 16 * (number % 8)).astype(np.uint8), mode="P")
        frame.putpalette(palette)
        frames.append(frame)
    partial = path.with_name(path.name + ".part")
    frames[0].save(
        partial,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=spec.delay_ms,
        loop=0,
        optimize=False,
    )
    partial.rename(path)
    return path


def sampled_pngs(clip: Path, folder: Path, frames: int) -> list[Path]:
    """The frames DeepGuard samples from `clip`, decoded by its own code, saved as PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    done = sorted(folder.glob(f"{clip.stem}-f*.png"))
    if len(done) >= frames:
        return done
    images: list[Image.Image] = []

    def keep(image: Image.Image) -> PixelArray:
        images.append(image)
        return np.zeros((3, 1, 1), dtype=np.float32)

    decoded = decode_video(
        clip.read_bytes(),
        "mov",
        ImageLimits(),
        VideoSettings(frames=frames),
        FrameSink(keep),
        Budget(600),
    )
    paths = []
    for sample, image in zip(decoded.frames, images, strict=True):
        path = folder / f"{frame_key(clip, sample.index)}.png"
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def frame_key(clip: Path, index: int) -> str:
    """How a sampled frame is named in both paths' results."""
    return f"{clip.stem}-f{index:05d}"
