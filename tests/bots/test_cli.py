"""`deepguard check`, `eval` and `run` from the command line, loading the model as users do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bots.cli import main
from tests.provenance_images import (
    A1111,
    AI,
    flip_scan_bytes,
    issue,
    make_authority,
    manifest,
    picture,
    png_with_texts,
    sign,
)
from tests.tiny_model import FAMILIES, build_model_dir


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer `.env` or DEEPGUARD_* variable leaks into these runs."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("DEEPGUARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DEEPGUARD_MODEL__OFFLINE", "true")
    monkeypatch.setenv("DEEPGUARD_MODEL__THREADS", "1")


def _image(path: Path, seed: int, fmt: str = "PNG") -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path, fmt)
    return path


def test_check_json_contract(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One JSON object per file in input order; errors named; exit status 2 if any failed."""
    good = _image(tmp_path / "a.png", 1)
    photo = _image(tmp_path / "b.jpg", 2, "JPEG")
    corrupt = tmp_path / "c.png"
    corrupt.write_bytes(good.read_bytes()[:60])
    svg = tmp_path / "d.png"
    svg.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    missing = tmp_path / "e.png"
    files = [good, photo, corrupt, svg, missing]
    status = main(["check", "--json", "--model", str(model_dir), *map(str, files)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 2
    assert [line["file"] for line in lines] == [str(f) for f in files]
    for verdict in lines[:2]:
        assert "models" not in verdict  # one model: the contract's fields only
        assert verdict["verdict"] in {"FAKE", "REAL"}
        assert verdict["fake_probability"] + verdict["real_probability"] == pytest.approx(1.0)
        assert (verdict["fake_probability"] >= 0.5) == (verdict["verdict"] == "FAKE")
    assert lines[2] == {"file": str(corrupt), "error": "the image is damaged or incomplete"}
    assert "not supported" in lines[3]["error"]
    assert lines[4]["error"] == "file not found"


def test_check_table_and_threshold(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json a readable table; all judged means exit 0; --threshold moves verdicts."""
    files = [str(_image(tmp_path / f"{i}.png", i)) for i in range(3)]
    assert main(["check", "--model", str(model_dir), "--threshold", "0", *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["VERDICT", "FAKE", "%", "FILE"]
    assert all(line.startswith("FAKE") for line in out[1:])
    assert len(out) == 4


def test_eval_reports_card_metrics(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """eval judges real/ and fake/ and prints accuracy, AUC, F1 and a threshold for 5% FPR."""
    for label, offset in (("real", 0), ("fake", 100)):
        (tmp_path / "set" / label).mkdir(parents=True)
        for i in range(4):
            _image(tmp_path / "set" / label / f"{i}.png", offset + i)
    status = main(["eval", str(tmp_path / "set"), "--model", str(model_dir), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["count"] == 8
    confusion = report["confusion"]
    assert sum(confusion.values()) == 8
    assert 0.0 <= report["auc"] <= 1.0
    assert report["fpr_at_target"] <= 0.05


@pytest.fixture
def second_model(tmp_path: Path) -> Path:
    """A SigLIP2 NaFlex classifier with three classes, beside conftest's SigLIP."""
    return FAMILIES["siglip2-naflex"](tmp_path / "naflex", {0: "AI", 1: "Deepfake", 2: "Real"})


def test_check_json_with_several_models(
    tmp_path: Path,
    model_dir: Path,
    second_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each line adds `models` (name, fake_probability, classes) in the configured order; the
    fake probability is their weighted mean and the verdict follows it at the threshold."""
    monkeypatch.setenv("DEEPGUARD_MODEL__WEIGHTS", "3,1")
    files = [_image(tmp_path / f"{i}.png", i) for i in range(3)]
    names = f"{model_dir},{second_model}"
    status = main(["check", "--json", "--model", names, *map(str, files)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0
    for line in lines:
        first, second = line["models"]
        assert list(first) == ["name", "fake_probability", "classes"]
        assert (first["name"], second["name"]) == (str(model_dir), str(second_model))
        assert set(first["classes"]) == {"Real", "Fake"}
        assert set(second["classes"]) == {"AI", "Deepfake", "Real"}
        assert second["fake_probability"] == pytest.approx(1 - second["classes"]["Real"])
        mean = (3 * first["fake_probability"] + second["fake_probability"]) / 4
        assert line["fake_probability"] == pytest.approx(mean, abs=2e-6)
        assert line["classes"] == {
            "fake": line["fake_probability"],
            "real": line["real_probability"],
        }
        assert (line["verdict"] == "FAKE") == (line["fake_probability"] >= 0.5)


def test_several_models_need_matching_weights(
    tmp_path: Path,
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--model with another count of models than DEEPGUARD_MODEL__WEIGHTS is a usage error."""
    monkeypatch.setenv("DEEPGUARD_MODEL__WEIGHTS", "1,1,1")
    image = _image(tmp_path / "x.png", 1)
    assert main(["check", "--model", f"{model_dir},{model_dir}-other", str(image)]) == 2
    err = capsys.readouterr().err
    assert "DEEPGUARD_MODEL__WEIGHTS" in err
    assert "(2), not 3" in err


def test_unrunnable_model_is_refused_before_any_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model with labels that say nothing of fake is refused at start-up: one line naming
    the setting, no traceback, and no line for the file."""
    generic = build_model_dir(tmp_path / "generic", {0: "LABEL_0", 1: "LABEL_1"})
    image = _image(tmp_path / "x.png", 1)
    assert main(["check", "--json", "--model", str(generic), str(image)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "DEEPGUARD_MODEL__FAKE_LABEL" in err
    assert "Traceback" not in err


def _labelled_folder(root: Path) -> Path:
    for label, offset in (("real", 0), ("fake", 100)):
        (root / label).mkdir(parents=True)
        for i in range(4):
            _image(root / label / f"{i}.png", offset + i)
    return root


def test_eval_with_several_models_side_by_side(
    tmp_path: Path,
    model_dir: Path,
    second_model: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """eval reports every model and the ensemble on the same images: AUC, accuracy, F1 and
    the threshold for the target false-positive rate, as JSON and as a table."""
    folder = _labelled_folder(tmp_path / "set")
    names = f"{model_dir},{second_model}"
    assert main(["eval", str(folder), "--model", names, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in report["models"]] == [str(model_dir), str(second_model)]
    for column in [report, *report["models"]]:
        assert column["count"] == 8
        assert {"auc", "accuracy", "f1", "threshold_at_target"} <= set(column)
        assert column["fpr_at_target"] <= 0.05
    single = tmp_path / "single.json"
    assert main(["eval", str(folder), "--model", str(model_dir), "--json"]) == 0
    single.write_text(capsys.readouterr().out)
    alone = json.loads(single.read_text())
    assert "models" not in alone
    assert report["models"][0]["auc"] == pytest.approx(alone["auc"])
    assert report["models"][0]["accuracy"] == pytest.approx(alone["accuracy"])

    assert main(["eval", str(folder), "--model", names]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["ensemble", "model", "1", "model", "2"]
    rows = {line[:26].strip(): line[26:].split() for line in table[2:]}
    assert rows["AUC"] == [f"{report['auc']:.4f}", *(f"{m['auc']:.4f}" for m in report["models"])]
    assert len(rows["F1"]) == len(rows["accuracy"]) == 3
    assert len(rows["threshold for FPR <= 5.0%"]) == 3
    assert table[-2:] == [
        f"model 1: {model_dir} (weight 1)",
        f"model 2: {second_model} (weight 1)",
    ]


def test_eval_needs_both_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder without real/ and fake/ is a usage error, before any model is loaded."""
    assert main(["eval", str(tmp_path)]) == 2
    assert "real/ and fake/" in capsys.readouterr().err


def test_run_without_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    """With no bot token set, run says which variables to set."""
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "DEEPGUARD_DISCORD__TOKEN" in err
    assert "DEEPGUARD_TELEGRAM__TOKEN" in err


def test_bad_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid variable is reported by name, with exit status 2."""
    monkeypatch.setenv("DEEPGUARD_QUEUE__MAX_PENDING", "lots")
    assert main(["check", "x.png"]) == 2
    assert "DEEPGUARD_QUEUE__MAX_PENDING" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script(tmp_path: Path, model_dir: Path) -> None:
    """The installed `deepguard` command works end to end in a fresh process."""
    script = Path(sys.executable).parent / "deepguard"
    image = _image(tmp_path / "x.png", 7)
    done = subprocess.run(
        [str(script), "check", "--json", "--model", str(model_dir), str(image)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["file"] == str(image)


def test_health_follows_heartbeat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`deepguard health` fails without a fresh heartbeat file and passes with one."""
    beat = tmp_path / "alive"
    monkeypatch.setenv("DEEPGUARD_HEALTH_FILE", str(beat))
    assert main(["health"]) == 1
    beat.touch()
    assert main(["health"]) == 0


async def test_heartbeat_touches_then_removes(tmp_path: Path) -> None:
    """The heartbeat keeps its file fresh while running and removes it when cancelled."""
    import asyncio

    from bots.run import heartbeat, is_alive

    beat = tmp_path / "alive"
    task = asyncio.create_task(heartbeat(beat, interval_s=0.01))
    for _ in range(100):
        if beat.exists():
            break
        await asyncio.sleep(0.01)
    assert is_alive(beat)
    assert not is_alive(beat, max_age_s=10, now=beat.stat().st_mtime + 11)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not beat.exists()


@pytest.mark.slow
def test_backends_measures_each_backend_and_recommends_one(
    tmp_path: Path,
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every backend in its own process on the user's images: a table and a recommendation."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("DEEPGUARD_MODEL__ONNX_CACHE_DIR", str(tmp_path / "onnx"))
    folder = tmp_path / "mine"
    folder.mkdir()
    for seed in range(3):
        _image(folder / f"{seed}.png", seed)
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    status = main(["backends", "--model", str(model_dir), "--images", str(folder)])
    captured = capsys.readouterr()
    assert status == 0
    out = captured.out
    assert out.startswith("CPU features: ")
    assert "3 images" in out
    rows = {
        line.split()[0]: line for line in out.splitlines() if line.startswith(("torch", "onnx"))
    }
    assert {"torch", "torch-int8", "onnx", "onnx-int8"} <= set(rows)
    assert rows["torch"].split()[3:6] == ["1.00x", "exact", "exact"]
    for backend in ("torch-int8", "onnx", "onnx-int8"):
        cells = rows[backend].split()
        assert float(cells[1]) > 0
        assert float(cells[2]) > 0
        assert 0.0 <= float(cells[4]) <= float(cells[5]) <= 1.0  # median <= max |dp|
        assert cells[-1] == "MB"
        assert float(cells[-2]) > 0
    assert float(rows["onnx"].split()[5]) <= 1e-4  # fp32 ONNX: the exact answers
    assert "skipping broken.jpg" in captured.err
    recommended = out.splitlines()[-1]
    assert recommended.startswith("recommended: DEEPGUARD_MODEL__BACKEND=")
    assert recommended.split("=")[1].split()[0] in rows


def test_backends_refuses_a_folder_without_images(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["backends", "--model", str(model_dir), "--images", str(empty)]) == 2
    assert "has no image files" in capsys.readouterr().err
    assert main(["backends", "--images", str(tmp_path / "absent")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_check_reports_provenance(
    tmp_path: Path,
    model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--json adds provenance, declared_ai and verdict_reason; a declaration of AI makes FAKE."""
    authority = make_authority()
    monkeypatch.setenv(
        "DEEPGUARD_PROVENANCE__TRUST_ANCHORS", str(authority.write(tmp_path / "anchors.pem"))
    )
    signed = sign(
        picture(size=(160, 120)), issue(authority, "Example AI Lab"), manifest(AI, "Maker")
    )
    files = {
        "signed.jpg": signed,
        "tampered.jpg": flip_scan_bytes(signed),
        "a1111.png": png_with_texts({"parameters": A1111}),
        "plain.png": picture("PNG"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / name) for name in files]
    # At threshold 1 the model alone calls nothing FAKE: every FAKE here is declared.
    args = ["check", "--model", str(model_dir), "--threshold", "1", *paths]
    assert main([*args[:1], "--json", *args[1:]]) == 0
    signed_line, tampered, a1111, plain = (
        json.loads(line) for line in capsys.readouterr().out.splitlines()
    )
    assert signed_line["provenance"] == [
        {
            "source": "c2pa",
            "declares": "ai-generated",
            "generator": "Maker",
            "signer": "Example AI Lab",
            "state": "trusted",
            "detail": "signed by a signer on the trust list; digital source type trainedAlgorithmicMedia",
        }
    ]
    assert (signed_line["declared_ai"], signed_line["verdict"], signed_line["verdict_reason"]) == (
        True,
        "FAKE",
        "declared",
    )
    assert signed_line["fake_probability"] < 1
    assert [e["state"] for e in tampered["provenance"]] == ["invalid"]
    assert (tampered["declared_ai"], tampered["verdict"], tampered["verdict_reason"]) == (
        False,
        "REAL",
        "model",
    )
    assert [(e["source"], e["generator"]) for e in a1111["provenance"]] == [
        ("metadata", "Stable Diffusion")
    ]
    assert (a1111["verdict"], a1111["verdict_reason"]) == ("FAKE", "declared")
    assert (plain["provenance"], plain["declared_ai"], plain["verdict_reason"]) == (
        [],
        False,
        "model",
    )

    assert main(args) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].startswith("FAKE")
    assert table[1].endswith("signed.jpg")
    assert table[2].strip() == (
        "Content Credentials: made with an AI generator (signed by Example AI Lab) "
        "[verdict: declared]"
    )
    assert table[3].startswith("REAL")
    assert table[3].endswith("tampered.jpg")
    assert table[4].strip() == "Content Credentials present but tampered with"
    assert table[6].strip().startswith("Metadata: Stable Diffusion parameters found")
    assert table[7].startswith("REAL")
    assert table[7].endswith("plain.png")
    assert len(table) == 8  # the plain picture has no provenance line

    monkeypatch.setenv("DEEPGUARD_PROVENANCE__DECLARED_AI_IS_FAKE", "false")
    assert main(["check", "--json", *args[1:3], "--threshold", "1", paths[2]]) == 0
    model_only = json.loads(capsys.readouterr().out)
    assert (model_only["declared_ai"], model_only["verdict"], model_only["verdict_reason"]) == (
        True,
        "REAL",
        "model",
    )
