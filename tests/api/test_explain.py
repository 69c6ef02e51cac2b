"""`POST /v1/explain`: the picture by default, the map as JSON on request, classify's guards."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest
from PIL import Image

from api.app import InferenceAPI, create_app
from api.client import RemoteDetector
from api.metrics import Metrics
from api.wire import METHOD_HEADER
from config import RemoteSettings
from core.classifier import HFClassifier
from core.errors import ExplanationUnavailable
from core.explain import Explanation, Method, PatchMap
from core.heatmap import MAX_SIDE, encode_png
from core.result import Judgement, Scores
from tests.api.http_harness import serve_settings, serving
from tests.fakes import FakeClassifier, png_bytes

FAST = RemoteSettings(retries=1, max_retry_wait_s=0.01, timeout_s=20)
JSON = {"Accept": "application/json"}


async def test_the_answer_is_a_png_of_the_picture(classifier: HFClassifier) -> None:
    """By default the answer is a PNG: the image fitted (long side 512..1024) above a legend."""
    image = png_bytes(90, size=(600, 300))
    async with serving(serve_settings(), classifier) as running:
        response = await running.session.post(f"{running.url}/v1/explain", data=image)
        status, kind, body = response.status, response.content_type, await response.read()
    assert (status, kind) == (200, "image/png")
    with Image.open(io.BytesIO(body)) as picture:
        assert picture.format == "PNG"
        assert picture.width == 600  # within the fitted range: kept as it is
        assert picture.height > 300  # the legend strip under it
        assert max(picture.size) <= MAX_SIDE + 200


async def test_json_adds_up_to_the_logit_gap(classifier: HFClassifier) -> None:
    """With Accept: application/json: the CLI's fields minus "file", and mean(grid)+bias is the gap."""
    image = png_bytes(33, size=(64, 48))
    async with serving(serve_settings(), classifier) as running:
        url = f"{running.url}/v1/explain"
        async with running.session.post(url, data=image, headers=JSON) as response:
            status, body = response.status, await response.json()
        local = await running.detector.explain(image)
    assert status == 200
    assert set(body) == {"fake_probability", "rows", "cols", "grid", "bias", "media"}
    assert body["media"] == "image"
    grid = np.asarray(body["grid"])
    assert grid.shape == (body["rows"], body["cols"])
    assert body["fake_probability"] == pytest.approx(local.fake_probability, abs=1e-6)
    assert float(grid.mean()) + body["bias"] == pytest.approx(local.patches.gap, rel=1e-6)
    p = body["fake_probability"]
    # Two classes: the gap is the log-odds of the fake probability.
    assert float(grid.mean()) + body["bias"] == pytest.approx(np.log(p / (1 - p)), abs=1e-3)


async def test_a_token_is_required(classifier: HFClassifier) -> None:
    """Same auth as classify: no token is 401 unauthorized, the right one is answered."""
    async with serving(serve_settings(token="s3cret"), classifier) as running:
        url = f"{running.url}/v1/explain"
        async with running.session.post(url, data=png_bytes(1), headers=JSON) as response:
            refused = response.status, (await response.json())["error"]
        auth = {**JSON, "Authorization": "Bearer s3cret"}
        async with running.session.post(url, data=png_bytes(1), headers=auth) as response:
            accepted = response.status
    assert refused == (401, "unauthorized")
    assert accepted == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [(b"not an image at all", 415, "unsupported"), (png_bytes(2)[:40], 400, "corrupt")],
)
async def test_bad_uploads_are_refused_as_classify_refuses_them(
    classifier: HFClassifier, body: bytes, status: int, code: str
) -> None:
    async with serving(serve_settings(), classifier) as running:
        url = f"{running.url}/v1/explain"
        async with running.session.post(url, data=body, headers=JSON) as response:
            answer = response.status, (await response.json())["error"]
    assert answer == (status, code)


async def test_over_the_byte_cap_is_413(classifier: HFClassifier) -> None:
    settings = serve_settings(images={"max_bytes": 1000})
    async with serving(settings, classifier) as running:
        url = f"{running.url}/v1/explain"
        async with running.session.post(url, data=b"\x89PNG" + bytes(5000)) as response:
            answer = response.status, (await response.json())["error"]
    assert answer == (413, "too_large")


async def test_a_model_that_cannot_explain_is_422_and_the_client_raises_it() -> None:
    """A classifier that is no Explainer: 422 "unexplainable", ExplanationUnavailable remotely."""
    async with serving(serve_settings(), FakeClassifier()) as running:
        url = f"{running.url}/v1/explain"
        async with running.session.post(url, data=png_bytes(4)) as response:
            status, body = response.status, await response.read()
        async with RemoteDetector(running.url, FAST) as remote:
            with pytest.raises(ExplanationUnavailable):
                await remote.explain(png_bytes(4))
    assert (status, json.loads(body)["error"]) == (422, "unexplainable")


async def test_the_remote_core_explains_and_paints(classifier: HFClassifier) -> None:
    """RemoteDetector.explain rebuilds the map; with a legend it paints the PNG itself."""
    image = png_bytes(77, size=(50, 70))
    async with serving(serve_settings(), classifier) as running:
        async with RemoteDetector(running.url, FAST) as remote:
            plain = await remote.explain(image)
            painted = await remote.explain(image, legend="the bot's own words")
        local = await running.detector.explain(image)
    assert plain.png is None
    assert np.allclose(plain.patches.grid, local.patches.grid)
    assert plain.patches.method == local.patches.method
    assert plain.fake_probability == pytest.approx(local.fake_probability, abs=1e-6)
    assert painted.png is not None
    with Image.open(io.BytesIO(painted.png)) as picture:
        assert picture.format == "PNG"
        assert picture.width >= 360


class _Recording:
    """A judge that explains everything with a flat map, keeping the legends it was asked for."""

    depth = 0

    def __init__(self) -> None:
        self.legends: list[str | None] = []

    async def judge(self, data: bytes) -> Judgement:
        raise AssertionError("explaining never judges")

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        self.legends.append(legend)
        patches = PatchMap(np.zeros((2, 2)), 0.25, Method.GRADIENT)
        png = None if legend is None else encode_png(Image.new("RGB", (8, 8)))
        return Explanation("0" * 64, Scores(0.5, {}), patches, png)


async def test_the_app_draws_with_its_legend_and_names_the_method() -> None:
    """The picture is asked for with the app's legend; the JSON without one; both name the method."""
    judge = _Recording()
    api = InferenceAPI(serve_settings(), Metrics(), legend="the operator's words")
    api.attach(judge)
    transport = httpx.ASGITransport(app=create_app(api))
    async with httpx.AsyncClient(transport=transport, base_url="http://deepguard") as client:
        picture = await client.post("/v1/explain", content=png_bytes(5))
        either = {"Accept": "image/png, application/json"}
        preferred = await client.post("/v1/explain", content=png_bytes(5), headers=either)
        mapped = await client.post("/v1/explain", content=png_bytes(5), headers=JSON)
    assert judge.legends == ["the operator's words", "the operator's words", None]
    assert picture.headers["content-type"] == preferred.headers["content-type"] == "image/png"
    assert mapped.json() == {
        "fake_probability": 0.5,
        "rows": 2,
        "cols": 2,
        "grid": [[0.0, 0.0], [0.0, 0.0]],
        "bias": 0.25,
        "media": "image",
    }
    assert {picture.headers[METHOD_HEADER], mapped.headers[METHOD_HEADER]} == {"gradient"}
