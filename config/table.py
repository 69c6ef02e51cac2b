"""The README's table of settings, made from `Settings` so that it cannot drift from the code.

`python -m config.table` prints it, `python -m config.table --write` puts it into README.md; a
test checks that README.md holds exactly this text.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from config.settings import ENV_PREFIX, NESTED_DELIMITER, Settings

BEGIN = "<!-- settings-table -->"
END = "<!-- /settings-table -->"


def settings_table() -> str:
    """A Markdown table: variable, default, what it does."""
    lines = ["| Variable | Default | What it does |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {default} | {about} |" for name, default, about in rows()]
    return "\n".join(lines)


def rows() -> Iterator[tuple[str, str, str]]:
    for group_name, group in Settings.model_fields.items():
        annotation = group.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            prefix = f"{ENV_PREFIX}{group_name.upper()}{NESTED_DELIMITER}"
            for name, field in annotation.model_fields.items():
                yield _row(prefix + name.upper(), field)
        else:
            yield _row(ENV_PREFIX + group_name.upper(), group)


def _row(variable: str, field: FieldInfo) -> tuple[str, str, str]:
    about = (field.description or "").replace("|", "\\|")
    return variable, _default(field), about


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
        return "(unset)"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | tuple | frozenset | set):
        return "`" + ",".join(str(item) for item in value) + "`"
    if isinstance(value, Path):
        value = str(value)
    return f"`{value}`"


def readme_block() -> str:
    return f"{BEGIN}\n{settings_table()}\n{END}"


def update_readme(path: Path) -> bool:
    """Rewrite the block between the markers; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    updated = text[:start] + readme_block() + text[end:]
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    import sys

    if "--write" in sys.argv:
        update_readme(Path(__file__).resolve().parent.parent / "README.md")
    else:
        print(settings_table())
