"""AI generators' own metadata: PNG text chunks and EXIF fields that name or carry a generator.

Each rule looks for what a generator really writes (A1111's "Steps: N, Sampler: ..." line,
ComfyUI's node graph), not merely a chunk's name, so an unrelated chunk with a common keyword
declares nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

from core.provenance.exif import ExifText
from core.result import Declares, Evidence, Source

# Names matched in EXIF/PNG `Software` and in C2PA claim generators: AI image generators only,
# never an editor that merely has AI features.
_KNOWN: Final = (
    ("NovelAI", r"novel ?ai"),
    ("Midjourney", r"midjourney"),
    ("DALL-E", r"dall[-·. ]?e"),
    ("Stable Diffusion", r"stable[- ]?diffusion|sdxl|automatic1111"),
    ("ComfyUI", r"comfyui"),
    ("InvokeAI", r"invoke ?ai"),
    ("Fooocus", r"fooocus"),
    ("Adobe Firefly", r"firefly"),
    ("Leonardo.Ai", r"leonardo\.?ai"),
    ("Ideogram", r"ideogram"),
    ("Imagen", r"imagen"),
    ("ChatGPT", r"chatgpt|gpt-4o|gpt-image"),
    ("OpenAI", r"openai"),
    ("FLUX", r"flux\.1"),
    ("DreamStudio", r"dreamstudio"),
    ("NightCafe", r"nightcafe"),
    ("Bing Image Creator", r"bing image creator"),
    ("Craiyon", r"craiyon"),
)
# Letters and digits around a name must not continue it ("imagenet" is not Imagen); `_` may.
_PATTERNS: Final = tuple(
    (name, re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])", re.IGNORECASE))
    for name, pattern in _KNOWN
)
_A1111: Final = re.compile(r"Steps: \d+, Sampler: ")
_MODEL: Final = re.compile(r"(?:^|, )Model: ([^,\n]{1,80})")
_INVOKEAI_KEYS: Final = ("invokeai_metadata", "invokeai_graph", "invokeai_workflow", "sd-metadata")


def known_generator(name: str) -> str | None:
    """The AI generator a software name stands for, if it is one."""
    return next((known for known, pattern in _PATTERNS if pattern.search(name)), None)


def from_texts(texts: Mapping[str, str]) -> list[Evidence]:
    """What a PNG's text chunks say, one piece of evidence per generator."""
    return _unique(_from_texts(texts))


def from_exif(fields: ExifText) -> list[Evidence]:
    """What an EXIF block's `Software` and `UserComment` say."""
    found: list[Evidence] = []
    if fields.software and (name := known_generator(fields.software)):
        found.append(_evidence(name, f"EXIF Software names {name}"))
    if fields.user_comment and _A1111.search(fields.user_comment):
        found.append(_a1111(fields.user_comment))
    return _unique(iter(found))


def _from_texts(texts: Mapping[str, str]) -> Iterator[Evidence]:
    parameters = texts.get("parameters", "")
    if _A1111.search(parameters):
        yield _a1111(parameters)
    if "fooocus_scheme" in texts:
        yield _evidence("Fooocus", "Fooocus parameters found")
    if '"class_type"' in texts.get("prompt", "") or '"nodes"' in texts.get("workflow", ""):
        yield _evidence("ComfyUI", "ComfyUI workflow found")
    if any(key in texts for key in _INVOKEAI_KEYS) or texts.get("Dream"):
        yield _evidence("InvokeAI", "InvokeAI metadata found")
    if "Job ID:" in texts.get("Description", ""):
        yield _evidence("Midjourney", "Midjourney job ID found")
    software = texts.get("Software", "")
    if software.strip() == "NovelAI":
        yield _evidence("NovelAI", "NovelAI generation data found")
    elif name := known_generator(software):
        yield _evidence(name, f"PNG Software names {name}")


def _a1111(parameters: str) -> Evidence:
    """AUTOMATIC1111's and Forge's parameters, in a PNG chunk or an EXIF UserComment."""
    model = _MODEL.search(parameters)
    suffix = f" (model {model.group(1).strip()})" if model else ""
    return _evidence("Stable Diffusion", f"Stable Diffusion parameters found{suffix}")


def _evidence(generator: str, detail: str) -> Evidence:
    return Evidence(Source.METADATA, Declares.AI_GENERATED, generator=generator, detail=detail)


def _unique(found: Iterator[Evidence]) -> list[Evidence]:
    by_generator: dict[str | None, Evidence] = {}
    for evidence in found:
        by_generator.setdefault(evidence.generator, evidence)
    return list(by_generator.values())
