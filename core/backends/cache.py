"""Where an exported model of these weights lives: a folder named by the hash of the weights.

The cache root is `onnx_cache_dir` when set, else beside the weights (a local model directory's
`onnx/` folder, or `deepguard-onnx/<model>` in the hub cache). The folder name hashes the config
and weights files, the input size the graph is exported at (from the processor: a convolutional
model runs at any size, so the same weights may be served at several) and the exporting library
versions, so changed weights or sizes (or a new torch) make a new export instead of serving a
stale one; so does a new layout of the exported graph.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from config import ModelSettings
from core.errors import ModelError

_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def cache_folder(
    settings: ModelSettings, input_size: tuple[int, int], opset: int, graph: int
) -> Path:
    """The folder for this model's exports at `input_size` (width, height; not created here).

    `graph` numbers the exported graph's layout (its outputs): a new layout is a new folder,
    so a cache made before it is exported again rather than served without them.
    """
    files = _model_files(settings)
    return _cache_root(settings) / _cache_key(files, input_size, opset, graph)


def hub_options(settings: ModelSettings) -> dict[str, Any]:
    """Where and how `from_pretrained` may look for the model, from the settings."""
    return {
        "revision": settings.revision,
        "cache_dir": settings.cache_dir,
        "local_files_only": settings.offline,
    }


def _model_files(settings: ModelSettings) -> list[Path]:
    """config.json and every weights file, resolved as `from_pretrained` would find them."""
    from transformers.utils import cached_file

    def fetch(name: str) -> Path | None:
        found = cached_file(
            settings.name,
            name,
            _raise_exceptions_for_missing_entries=False,
            **hub_options(settings),
        )
        return Path(found) if found else None

    try:
        config = fetch("config.json")
        for index_name in _INDEXES:
            index = fetch(index_name)
            if index is not None:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
                weights = [fetch(shard) for shard in shards]
                break
        else:
            weights = [next((w for w in map(fetch, _WEIGHTS) if w is not None), None)]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot find the weights of {settings.name!r}: {exc}") from exc
    if config is None or not weights or any(w is None for w in weights):
        raise ModelError(f"cannot find config.json and weights for {settings.name!r}")
    return [config, *(w for w in weights if w is not None)]


def _cache_root(settings: ModelSettings) -> Path:
    if settings.onnx_cache_dir is not None:
        return settings.onnx_cache_dir
    if Path(settings.name).is_dir():
        return Path(settings.name) / "onnx"
    from huggingface_hub import constants

    hub = settings.cache_dir or Path(constants.HF_HUB_CACHE)
    return Path(hub) / "deepguard-onnx" / re.sub(r"[^A-Za-z0-9._-]+", "--", settings.name)


def _cache_key(files: list[Path], input_size: tuple[int, int], opset: int, graph: int) -> str:
    """Hash of the files' contents, the input size and the exporter's versions, 16 hex digits."""
    import torch
    import transformers

    parts = [f"torch={torch.__version__}", f"transformers={transformers.__version__}"]
    width, height = input_size
    parts += [f"opset={opset}", f"graph={graph}", f"input={width}x{height}"]
    parts += [f"{path.name}={file_digest(path)}" for path in files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def file_digest(path: Path) -> str:
    """SHA-256 of a file; a hub blob is named by its own SHA-256, so that one costs nothing."""
    target = path.resolve()
    if _SHA256.fullmatch(target.name) and target.parent.name == "blobs":
        return target.name
    with target.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
