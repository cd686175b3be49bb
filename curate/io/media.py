"""Opening media files: recognise them by extension, hash them, record their metadata.

Every probe decodes the whole file so that truncated or damaged files are caught here,
once, instead of failing later in training. A failure never raises: the row gets
``status='corrupt'`` and a ``reason``.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from curate.registry import Registry


@dataclass(frozen=True)
class MediaKind:
    """One kind of media file: the extensions that name it, the manifest columns its probe
    fills, and the probe: ``probe(data, path, encoding)`` decodes the file's bytes and
    returns those fields, or raises :class:`Corrupt` saying why it cannot."""

    modality: str
    extensions: tuple[str, ...]
    fields: tuple[str, ...]
    probe: Callable[[bytes, str, "str | None"], dict[str, Any]]


#: Modality -> :class:`MediaKind`: what ``ingest`` recognises in a folder, in this order;
#: third parties add kinds through the ``curaug.media`` entry point group.
MEDIA_KINDS: Registry[MediaKind] = Registry("media kind", entry_points="curaug.media")


def extension_modality() -> dict[str, str]:
    """Every recognised file extension and the modality it names."""
    return {ext: kind.modality for _, kind in MEDIA_KINDS.items() for ext in kind.extensions}


def modality_of(path: str | Path) -> str | None:
    """The modality of a recognised file extension (``image``, ``audio``, ``text``...), else None."""
    return extension_modality().get(Path(path).suffix.lower())


def probe_file(full_path: str, modality: str, encoding: str | None = None) -> dict[str, Any]:
    """Hash and decode one file (text in ``encoding``, default UTF-8); return its manifest
    fields (never raises on bad data)."""
    try:
        # open() on the string: a Path per file cost a twentieth of the whole ingest
        with open(full_path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return {"status": "corrupt", "reason": f"cannot read: {exc.strerror or exc}"}
    fields: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
    if not data:
        return {**fields, "status": "corrupt", "reason": "empty file"}
    try:
        fields.update(MEDIA_KINDS.get(modality).probe(data, full_path, encoding))
    except Corrupt as exc:
        return {**fields, "status": "corrupt", "reason": str(exc)}
    return {**fields, "status": "ok", "reason": None}


def probe_batch(jobs: list[tuple[str, str, str | None]]) -> list[dict[str, Any]]:
    """:func:`probe_file` over ``(full_path, modality, encoding)`` jobs, in order: one task
    of a distributed ingest, so that a hand-off carries many files."""
    return [probe_file(*job) for job in jobs]


class Corrupt(Exception):
    """A file that cannot be decoded; the message is the manifest's ``reason``."""


def _probe_image(data: bytes, full_path: str, encoding: str | None = None) -> dict[str, Any]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            from curate.io.hashes import phash

            return {
                "format": im.format,
                "width": im.width,
                "height": im.height,
                "channels": len(im.getbands()),
                "phash": f"{phash(im):016x}",
            }
    except UnidentifiedImageError:
        raise Corrupt("not a readable image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Corrupt(f"cannot decode image: {_one_line(exc)}") from None


def _probe_audio(data: bytes, full_path: str, encoding: str | None = None) -> dict[str, Any]:
    import soundfile as sf

    suffix = Path(full_path).suffix.lower()
    if suffix == ".mp3" and "MP3" not in sf.available_formats():
        raise Corrupt("mp3 codec not available in this libsndfile build")
    try:
        info = sf.info(io.BytesIO(data))
        frames = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)[0].shape[0]
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise Corrupt(f"cannot decode audio: {_one_line(exc)}") from None
    if frames == 0:
        raise Corrupt("audio holds no samples")
    declared, held = _wav_data_sizes(data)
    if declared is not None and held < declared:
        raise Corrupt(f"truncated audio: header declares {declared} data bytes, file holds {held}")
    if info.frames > 0 and frames < info.frames:
        raise Corrupt(f"truncated audio: header says {info.frames} frames, data holds {frames}")
    return {
        "format": info.format,
        "sample_rate": int(info.samplerate),
        "duration_s": frames / float(info.samplerate),
        "channels": int(info.channels),
    }


def _wav_data_sizes(data: bytes) -> tuple[int | None, int]:
    """(declared, present) byte counts of a RIFF/WAVE file's data chunk.

    libsndfile quietly shortens a WAV whose data chunk runs past the end of the file, so
    a truncated download would otherwise pass as a shorter, valid clip.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None, 0
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            if size == 0xFFFFFFFF:  # streaming writers leave the size unset
                return None, 0
            return size, len(data) - pos - 8
        pos += 8 + size + (size & 1)
    return None, 0


def _probe_text(data: bytes, full_path: str, encoding: str | None = None) -> dict[str, Any]:
    try:
        text = data.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = "" if encoding else "; pass --encoding (e.g. latin-1) if the files are in another encoding"
        raise Corrupt(f"not valid {encoding or 'UTF-8'} (byte 0x{data[exc.start]:02x} at offset {exc.start}){hint}") \
            from None
    text = text.strip()
    if not text:
        raise Corrupt("text is empty")
    return {"format": "TXT", "text": text}


def _one_line(exc: BaseException) -> str:
    """The error on one line, without the reprs of objects (soundfile names the in-memory
    buffer it read, ``<_io.BytesIO object at 0x7f2f...>``: an address that differs on
    every run would make two ingests of the same files differ)."""
    text = _OBJECT_REPR.sub("the file", " ".join(str(exc).split()))
    return text or type(exc).__name__


_OBJECT_REPR = re.compile(r"<[^<>]*? (?:object )?at 0x[0-9a-fA-F]+>")


for _kind in (MediaKind("image", (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"),
                        ("width", "height", "channels", "phash"), _probe_image),
              MediaKind("audio", (".wav", ".flac", ".ogg", ".oga", ".mp3"), ("sample_rate", "duration_s", "channels"),
                        _probe_audio),
              MediaKind("text", (".txt",), ("text",), _probe_text)):
    MEDIA_KINDS.register(_kind.modality, _kind)
