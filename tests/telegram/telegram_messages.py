"""Messages as Telegram delivers them, with their files hosted for getFile and the download."""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.telegram.telegram_payloads import ALICE, Json, chat, user


class MessageFactory:
    """Builds incoming messages; the fake Telegram serves the files they refer to."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._files: dict[str, tuple[str, bytes, int]] = {}  # file_id -> path, bytes, size
        self._downloads: dict[str, bytes] = {}

    def add_file(self, data: bytes, *, size: int | None = None, folder: str = "photos") -> Json:
        """Host `data` for getFile; `size` declares another size than the real one."""
        n = next(self._ids)
        file_id, path = f"file-{n}", f"{folder}/file_{n}"
        declared = len(data) if size is None else size
        self._files[file_id] = (path, data, declared)
        self._downloads[path] = data
        return {"file_id": file_id, "file_unique_id": f"unique-{n}", "file_size": declared}

    def message(self, *, chat_id: int = ALICE, user_id: int = ALICE, **fields: Any) -> Json:
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat(chat_id),
            "from": user(user_id),
            **fields,
        }

    def photo(self, data: bytes, *, size: int | None = None, **fields: Any) -> Json:
        """A photo in two sizes, as Telegram sends them: a thumbnail, then `data`."""
        thumb = {**self.add_file(data[:64]), "width": 90, "height": 90}
        full = {**self.add_file(data, size=size), "width": 800, "height": 800}
        return self.message(photo=[thumb, full], **fields)

    def document(self, data: bytes, name: str, mime: str | None, **fields: Any) -> Json:
        size = fields.pop("size", None)
        document = {**self.add_file(data, size=size, folder="documents"), "file_name": name}
        if mime is not None:
            document["mime_type"] = mime
        return self.message(document=document, **fields)

    def sticker(
        self, data: bytes, *, animated: bool = False, video: bool = False, **fields: Any
    ) -> Json:
        """A sticker: WebP, or a TGS (Lottie) one if `animated`, or a WebM one if `video`."""
        sticker = {
            **self.add_file(data, folder="stickers"),
            **{"width": 512, "height": 512, "type": "regular"},
            **{"is_animated": animated, "is_video": video},
        }
        if video:
            sticker["thumbnail"] = self._thumbnail(data)
        return self.message(sticker=sticker, **fields)

    def video(self, data: bytes, *, size: int | None = None, **fields: Any) -> Json:
        """A video (an MP4), with the JPEG thumbnail Telegram makes of it."""
        video = {
            **self.add_file(data, size=size, folder="videos"),
            **{"width": 32, "height": 32, "duration": 1, "thumbnail": self._thumbnail(data)},
            **{"file_name": "clip.mp4", "mime_type": "video/mp4"},
        }
        return self.message(video=video, **fields)

    def animation(self, data: bytes, **fields: Any) -> Json:
        """A GIF as Telegram delivers it: converted to an MP4 `animation`, which the message
        also carries as its `document` (for clients that predate animations)."""
        animation = {
            **self.add_file(data, folder="animations"),
            **{"width": 32, "height": 32, "duration": 1, "thumbnail": self._thumbnail(data)},
            **{"file_name": "cat.gif.mp4", "mime_type": "video/mp4"},
        }
        shared = ("file_id", "file_unique_id", "file_size", "file_name", "mime_type", "thumbnail")
        document = {key: animation[key] for key in shared}
        return self.message(animation=animation, document=document, **fields)

    def video_note(self, data: bytes, **fields: Any) -> Json:
        """A round video message: square, with `length` for its side and no MIME type."""
        note = {
            **self.add_file(data, folder="video_notes"),
            **{"length": 32, "duration": 1, "thumbnail": self._thumbnail(data)},
        }
        return self.message(video_note=note, **fields)

    def _thumbnail(self, data: bytes) -> Json:
        """A thumbnail's PhotoSize (its bytes a stand-in: the bot never fetches it)."""
        return {**self.add_file(data[:64], folder="thumbnails"), "width": 32, "height": 32}

    def command(self, text: str, *, reply_to: Json | None = None, **fields: Any) -> Json:
        length = len(text.split()[0])
        entities = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            fields["reply_to_message"] = reply_to
        return self.message(text=text, entities=entities, **fields)

    def _get_file(self, params: Json) -> Json:
        file_id = str(params["file_id"])
        path, _, size = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": size,
            "file_path": path,
        }
