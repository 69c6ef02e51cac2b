"""What an upload declares about itself crosses the API: `serve` answers it, the client reads it."""

from __future__ import annotations

from api.client import RemoteDetector
from config import RemoteSettings
from core.result import Declares, Source, Verdict, VerdictReason
from tests.api.http_harness import serve_settings, serving
from tests.fakes import FakeClassifier
from tests.provenance_images import A1111, png_with_texts


async def test_generator_metadata_is_answered_and_decides_the_verdict() -> None:
    """A PNG with Stable Diffusion parameters: FAKE by its own declaration, the model's
    probability still given, the same through the remote client as in the JSON."""
    image = png_with_texts({"parameters": A1111})  # a dark picture: the model says real
    async with serving(serve_settings(), FakeClassifier()) as running:
        async with running.classify(image, headers={"Content-Type": "image/png"}) as response:
            assert response.status == 200
            body = await response.json()
        async with RemoteDetector(running.url, RemoteSettings()) as remote:
            judged = await remote.judge(image)
    assert body["verdict"] == "FAKE"
    assert body["verdict_reason"] == "declared"
    assert body["declared_ai"] is True
    assert body["fake_probability"] < 0.5
    [evidence] = body["provenance"]
    assert (evidence["source"], evidence["declares"]) == ("metadata", "ai-generated")
    assert evidence["detail"] == "Stable Diffusion parameters found (model v1-5-pruned-emaonly)"
    assert judged.verdict is Verdict.FAKE
    assert judged.verdict_reason is VerdictReason.DECLARED
    assert [(e.source, e.declares) for e in judged.provenance] == [
        (Source.METADATA, Declares.AI_GENERATED)
    ]
