"""`deepguard serve --ray`: the app of `deepguard serve` behind Ray Serve, 2 CPU replicas.

One small local Ray instance (2 CPUs, no dashboard, a small object store) serves the tiny model
for the whole module and is shut down at its end. Skipped without the `ray` extra.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray", reason="needs the ray extra: pip install -e '.[ray]'")
serve = pytest.importorskip("ray.serve", reason="needs the ray extra: pip install -e '.[ray]'")

from api.client import RemoteDetector  # noqa: E402  (after the skip)
from api.ray import APP_NAME, Replica, deploy  # noqa: E402
from api.refusals import Unauthorized  # noqa: E402
from config import (  # noqa: E402
    ImageLimits,
    ModelSettings,
    ProvenanceSettings,
    QueueSettings,
    RemoteSettings,
    ServeSettings,
    Settings,
)
from core.classifier import HFClassifier  # noqa: E402
from core.detector import Detector  # noqa: E402
from core.errors import CorruptImage, DeepGuardError, ImageTooLarge, UnsupportedImage  # noqa: E402
from tests.api.http_harness import free_port  # noqa: E402
from tests.fakes import png_bytes  # noqa: E402

pytestmark = pytest.mark.slow

TOKEN = "ray-token"
MAX_BYTES = 4096
CLIENT = RemoteSettings(retries=3, max_retry_wait_s=0.5, timeout_s=30)


@pytest.fixture(scope="module")
def ray_url(model_dir: Any) -> Iterator[str]:
    """The tiny model deployed on a local Ray with 2 replicas; its proxy's URL."""
    port = free_port()
    settings = Settings(
        _env_file=None,
        model=ModelSettings(name=str(model_dir), offline=True, device="cpu", threads=1),
        queue=QueueSettings(max_batch_size=4, max_wait_ms=5),
        images=ImageLimits(max_bytes=MAX_BYTES),
        serve=ServeSettings(
            host="127.0.0.1",
            port=port,
            token=TOKEN,
            ray_min_replicas=2,
            ray_max_replicas=2,
            ray_cpus_per_replica=0.5,
        ),
    )
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=80 * 1024 * 1024,
        log_to_driver=False,
    )
    try:
        deploy(settings)
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


async def test_remote_detector_works_unchanged(ray_url: str, classifier: HFClassifier) -> None:
    """RemoteDetector against Ray gets the judgement a local Detector gives for the same image."""
    image = png_bytes(170, size=(40, 40))
    async with RemoteDetector(ray_url, CLIENT, token=TOKEN) as remote:
        judged = await remote.judge(image)
    async with Detector(classifier, queue=QueueSettings(), limits=ImageLimits()) as local:
        expected = await local.judge(image)
    assert judged.verdict == expected.verdict
    assert judged.fake_probability == pytest.approx(expected.fake_probability, abs=1e-5)
    assert dict(judged.classes) == pytest.approx(dict(expected.classes), abs=1e-5)
    assert (judged.sha256, judged.threshold) == (expected.sha256, expected.threshold)


async def test_two_replicas_answer_concurrent_requests(ray_url: str) -> None:
    """Two replicas run, and a burst of concurrent requests is answered in full."""
    images = [png_bytes(red, green=red % 7, size=(40, 40)) for red in range(0, 240, 15)]
    async with RemoteDetector(ray_url, CLIENT, token=TOKEN) as remote:
        judgements = await asyncio.gather(*(remote.judge(image) for image in images))
    deployment = serve.status().applications[APP_NAME].deployments[APP_NAME]
    assert [j.sha256 for j in judgements] == [hashlib.sha256(i).hexdigest() for i in images]
    assert all(j.model_ms > 0 for j in judgements)
    assert deployment.replica_states.get("RUNNING") == 2


@pytest.mark.parametrize(
    ("data", "headers", "status", "code"),
    [
        pytest.param(png_bytes(10)[:40], {}, 400, "corrupt", id="corrupt"),
        pytest.param(b"plain text, not an image", {}, 415, "unsupported", id="unsupported"),
        pytest.param(bytes(MAX_BYTES + 1), {}, 413, "too_large", id="too-large"),
        pytest.param(
            png_bytes(10), {"Authorization": "Bearer no"}, 401, "unauthorized", id="token"
        ),
    ],
)
async def test_status_codes_match_deepguard_serve(
    ray_url: str, data: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    """Refusals carry the same status and JSON code as `deepguard serve`."""
    headers = {"Authorization": f"Bearer {TOKEN}", **headers}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{ray_url}/v1/classify", data=data, headers=headers) as response,
    ):
        body = await response.json()
    assert (response.status, body["error"]) == (status, code)


@pytest.mark.parametrize(
    ("data", "token", "error"),
    [
        (png_bytes(10)[:40], TOKEN, CorruptImage),
        (b"plain text, not an image", TOKEN, UnsupportedImage),
        (bytes(MAX_BYTES + 1), TOKEN, ImageTooLarge),
        (png_bytes(10), "wrong", Unauthorized),
    ],
)
async def test_remote_errors_keep_their_class(
    ray_url: str, data: bytes, token: str, error: type[DeepGuardError]
) -> None:
    """Through the remote core, each refusal is the same exception class as locally."""
    async with RemoteDetector(ray_url, CLIENT, token=token) as remote:
        with pytest.raises(error):
            await remote.judge(data)


async def test_probes_and_unknown_routes(ray_url: str) -> None:
    """/healthz and /readyz answer 200 without a token; an unknown path is a JSON 404."""
    async with aiohttp.ClientSession() as session:
        statuses = {}
        for path in ("/healthz", "/readyz", "/nope"):
            async with session.get(ray_url + path) as response:
                statuses[path] = response.status, (await response.json()).get("error")
    assert statuses == {
        "/healthz": (200, None),
        "/readyz": (200, None),
        "/nope": (404, "not_found"),
    }


async def test_every_replica_serves_metrics(ray_url: str) -> None:
    """Through Ray, /metrics is the replica's own: its detector's counters, behind the token."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with RemoteDetector(ray_url, CLIENT, token=TOKEN) as remote:
        await remote.judge(png_bytes(77, size=(40, 40)))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{ray_url}/metrics") as refused:
            unauthorised = refused.status
        async with session.get(f"{ray_url}/metrics", headers=headers) as response:
            status, text = response.status, await response.text()
    assert unauthorised == 401
    assert status == 200
    assert "deepguard_core_requests_total" in text
    assert "deepguard_http_requests_total" in text


async def test_replicas_run_the_configured_backend_and_decode(model_dir: Any) -> None:
    """A replica judges through `deepguard serve`'s Detector: the configured backend, JPEG drafts."""
    model = ModelSettings(name=str(model_dir), offline=True, device="cpu", backend="torch-int8")
    limits = ImageLimits(fast_decode=True)
    photo = _photo_jpeg()
    app = Replica(Settings(_env_file=None, model=model, images=limits)).__serve_build_asgi_app__()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://replica") as client,
    ):
        response = await client.post("/v1/classify", content=photo)
    async with Detector.open(model, QueueSettings(), limits, ProvenanceSettings()) as detector:
        same_settings = await detector.judge(photo)
    exact = Settings(_env_file=None, model=model.model_copy(update={"backend": "torch"}))
    async with Detector.open(
        exact.model, QueueSettings(), ImageLimits(), ProvenanceSettings()
    ) as detector:
        exact_path = await detector.judge(photo)
    fake_probability = response.json()["fake_probability"]
    assert response.status_code == 200
    assert fake_probability == pytest.approx(same_settings.fake_probability, abs=1e-6)
    assert (
        abs(fake_probability - exact_path.fake_probability) > 1e-7
    )  # int8 + draft, not the exact path


def _photo_jpeg() -> bytes:
    """A noisy 1600x1200 JPEG: large enough for JPEG draft mode to decode it at a smaller scale."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(1200, 1600, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
