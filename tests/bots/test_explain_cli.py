"""`deepguard explain FILE [-o OUT.png] [--json]`, loading the model as users do."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

from bots import replies
from bots.cli import main
from tests.sample_clips import LOSSLESS_MKV, noise_frames, video_bytes
from tests.tiny_model import build_vit_dir

CONTRACT = ["file", "fake_probability", "rows", "cols", "grid", "bias", "media"]


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer `.env` or DEEPGUARD_* variable leaks into these runs."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("DEEPGUARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DEEPGUARD_MODEL__OFFLINE", "true")
    monkeypatch.setenv("DEEPGUARD_MODEL__THREADS", "1")


def _image(path: Path, seed: int = 1, size: tuple[int, int] = (96, 64)) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "PNG")
    return path


def _logit_gap(model_dir: Path, image: Path) -> float:
    """Fake minus real, from the model card's own code: processor, model, logits."""
    processor = AutoImageProcessor.from_pretrained(model_dir)
    model = AutoModelForImageClassification.from_pretrained(model_dir).eval()
    with Image.open(image) as picture, torch.no_grad():
        logits = model(**processor(images=picture.convert("RGB"), return_tensors="pt")).logits
    return float(logits[0, 1] - logits[0, 0])  # {0: Real, 1: Fake}


def test_json_contract(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exactly the issue's fields; mean(grid) + bias is the logit gap within 1e-4; no picture."""
    image = _image(tmp_path / "a.png")
    assert main(["explain", str(image), "--json", "--model", str(model_dir)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert list(answer) == CONTRACT
    assert answer["file"] == str(image)
    grid = np.array(answer["grid"])
    assert grid.shape == (answer["rows"], answer["cols"]) == (4, 4)
    assert float(grid.mean()) + answer["bias"] == pytest.approx(
        _logit_gap(model_dir, image), abs=1e-4
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    assert main(["check", "--json", "--model", str(model_dir), str(image)]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert answer["fake_probability"] == checked["fake_probability"]


def test_picture_beside_the_file_by_default(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without options the picture goes beside FILE, and the command says where."""
    image = _image(tmp_path / "photo.png", size=(1500, 1000))
    assert main(["explain", str(image), "--model", str(model_dir)]) == 0
    written = tmp_path / "photo.explain.png"
    assert str(written) in capsys.readouterr().out
    with Image.open(written) as picture:
        assert picture.format == "PNG"
        assert picture.width == 1024
        assert picture.height > 683  # the 1024x683 picture, then its legend strip


def test_json_and_output_give_both(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json with -o prints the map and writes the picture where -o says."""
    image = _image(tmp_path / "a.png")
    out = tmp_path / "maps" / "a-map.png"
    out.parent.mkdir()
    assert main(["explain", str(image), "--json", "-o", str(out), "--model", str(model_dir)]) == 0
    assert list(json.loads(capsys.readouterr().out)) == CONTRACT
    with Image.open(out) as picture:
        assert picture.size[0] == 512  # a small picture is enlarged for the legend's sake


def test_a_video_is_explained_by_its_most_suspicious_frame(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A video's JSON adds "frame": the frame `check` names as its most suspicious."""
    clip = tmp_path / "clip.mkv"
    clip.write_bytes(video_bytes(noise_frames(10, side=48, seed=4), LOSSLESS_MKV, rate=5))
    model = ["--model", str(model_dir)]
    assert main(["explain", str(clip), "--json", *model]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert list(answer) == [*CONTRACT, "frame"]
    assert answer["media"] == "video"
    assert main(["check", "--json", *model, str(clip)]) == 0
    checked = json.loads(capsys.readouterr().out)
    worst = max(checked["frames"], key=lambda f: (f["fake_probability"], -f["time_s"]))
    assert answer["frame"] == {"index": worst["index"], "time_s": worst["time_s"]}
    assert answer["fake_probability"] == pytest.approx(worst["fake_probability"], abs=1e-6)
    assert main(["explain", str(clip), *model]) == 0
    said = capsys.readouterr().out
    assert "the most suspicious frame, at 0:0" in said
    assert (tmp_path / "clip.explain.png").exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "file not found"),
        (b"\x89PNG\r\n\x1a\n broken", "the image is damaged or incomplete"),
        (
            b"just text",
            "that format is not supported (use JPEG, PNG, WebP, GIF, MP4, MOV or WebM)",
        ),
    ],
)
def test_files_that_cannot_be_explained(
    tmp_path: Path,
    model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    reason: str,
) -> None:
    """The reason as `check` words it: a JSON error line with --json, stderr without; exit 2."""
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    assert main(["explain", str(path), "--json", "--model", str(model_dir)]) == 2
    assert json.loads(capsys.readouterr().out) == {"file": str(path), "error": reason}
    assert main(["explain", str(path), "--model", str(model_dir)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"deepguard: {path}: {reason}"
    assert not (tmp_path / "x.explain.png").exists()


def test_unavailable_for_this_model_and_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ViT on ONNX (no gradients) is refused with the clear message, exit status 2."""
    pytest.importorskip("onnxruntime")
    vit = build_vit_dir(tmp_path / "vit")
    monkeypatch.setenv("DEEPGUARD_MODEL__BACKEND", "onnx")
    monkeypatch.setenv("DEEPGUARD_MODEL__ONNX_CACHE_DIR", str(tmp_path / "onnx"))
    image = _image(tmp_path / "a.png")
    assert main(["explain", str(image), "--model", str(vit)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"deepguard: {image}: explanations are not available for this model and backend"
    )


def test_legend_wording() -> None:
    """The legend says where the model looked, never where the image is fake."""
    legend = replies.EXPLAIN_LEGEND.lower()
    assert "where the model saw ai-like (warm) and real-like (cool) evidence" in legend
    assert "not which parts are fake" in legend
