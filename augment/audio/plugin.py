"""The audio plugin: audio transforms by name (:data:`~augment.audio.transforms.AUDIO_TRANSFORMS`)
on the modality-blind runner, decoding and encoding with soundfile.

:meth:`AudioPlugin.load` decodes a row's file to float32 ``(channels, samples)`` and keeps
its sample rate, format and subtype (:mod:`augment.audio.decode`, the decoder training
reads audio with too). The plan (:meth:`AudioPlugin.draw`) names the steps
that apply; :meth:`AudioPlugin.apply` runs them in order, each drawing its values with
``get_params`` on the data the previous step produced, from a generator seeded by the
sample seed and the step's place in the plan, and records them (provenance; replay redoes
them). Before the first spectrogram step, or at the end with ``output: spectrogram``, the
waveform becomes a log-mel array (``augment.audio.spectrogram.log_mel`` with the recipe's
``log_mel:`` parameters), written as ``.npy``. A waveform is written in the input's format
(wav or flac; ogg and mp3 inputs as flac; the recipe's ``format:`` overrides) with its
subtype where that format has it, its channels, and its sample rate unless ``resample:``
asks for another. A waveform whose peak passes 1.0 does not clip: by default
(``clip_guard: peak``) it is scaled down to a 0.999 peak; with ``clip_guard: limit`` only
its samples above -1 dBFS are bent by a soft limiter (:func:`~augment.audio.waveform.soft_limit`),
the rest kept as they are. Either is recorded (``peak_normalize`` or ``limit``).

SNR-based transforms (``noise``, ``background``) are undefined on silence: a sample whose
RMS is below :data:`SILENCE_DBFS` is skipped, with the reason in the run summary.
:meth:`AudioPlugin.load` refuses a file that no longer decodes or whose size is not the
manifest's ``size_bytes`` (changed since ingest); the runner then skips its copies.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Optional

import numpy as np

from augment.audio.magnitude import DEFAULT_POOL, MAGNITUDE_OPS
from augment.audio.transforms import AUDIO_TRANSFORMS
from pydantic import Field

from augment.plugin import Context, Output, RegistryPlugin, SkipSample, register_plugin
from augment.recipe import Recipe, draw_plan
from curate.errors import CuraugError
from curate.strict import Strict

if TYPE_CHECKING:
    from augment.recipe import LoadedRecipe, Step

#: RMS (dBFS) below which a sample counts as silent for SNR-based transforms.
SILENCE_DBFS = -60.0
#: Peak a waveform is scaled to when the steps pushed it past full scale (``clip_guard:
#: peak``), and the ceiling the limiter bends loud samples towards (``clip_guard: limit``).
PEAK = 0.999
#: Level (dBFS) above which ``clip_guard: limit`` bends samples; everything below is kept.
LIMIT_DBFS = -1.0
#: soundfile format name per output suffix.
_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
#: libsndfile's command (sndfile.h) that turns off the PEAK chunk soundfile does not name.
_SFC_SET_ADD_PEAK_CHUNK = 0x1050
#: Built transforms kept per process (one per distinct set of parameter values).


class LogMel(Strict):
    """Log-mel spectrogram parameters (``augment.audio.spectrogram.log_mel``)."""

    n_mels: int = Field(64, ge=1, le=512)
    n_fft: int = Field(1024, ge=16, le=65536)
    hop_length: int = Field(256, ge=1, le=65536)


class AudioRecipe(Recipe):
    """An audio recipe's own keys: what to write (a waveform, or a ``.npy`` log-mel array
    computed with ``log_mel``) in which format, the sample rate to resample to (kept when
    not given), and how a copy past full scale is kept from clipping (scaled to a 0.999
    peak, or a soft limiter above -1 dBFS)."""

    format: Literal["wav", "flac", "same"] = "same"
    output: Optional[Literal["waveform", "spectrogram"]] = None
    log_mel: Optional[LogMel] = None
    resample: Optional[int] = Field(None, gt=0, le=384000)
    clip_guard: Optional[Literal["peak", "limit"]] = None


@dataclass
class AudioSample:
    """Decoded audio: a waveform ``(channels, samples)`` or, once converted, a log-mel
    array ``(channels, n_mels, frames)`` (``kind``), with what encoding it needs."""

    data: np.ndarray
    sr: int
    format: str = "WAV"
    subtype: str = "PCM_16"
    kind: str = "waveform"
    log_mel: dict[str, int] = field(default_factory=dict)
    row: dict[str, Any] = field(default_factory=dict)


def rms_dbfs(data: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (-inf for digital silence)."""
    from augment.audio.waveform import power

    mean_square = power(data)
    return 10 * float(np.log10(mean_square)) if mean_square > 0 else float("-inf")


def _check_unchanged(file: "os.PathLike", size_bytes: Any) -> None:
    """Refuse a file whose size is no longer the one ingest recorded: libsndfile reads a
    WAV cut short as a shorter, valid clip, so a truncation since ingest shows only here."""
    try:
        expected = int(size_bytes)
    except (TypeError, ValueError):  # no size recorded (a manifest built by hand)
        return
    size = os.path.getsize(file)
    if size != expected:
        raise CuraugError(f"{file}: {size} bytes, the manifest says {expected} (changed since ingest)")


@register_plugin
class AudioPlugin(RegistryPlugin):
    modality = "audio"
    recipe_model = AudioRecipe
    magnitude_ops = MAGNITUDE_OPS
    default_pool = DEFAULT_POOL
    transforms = AUDIO_TRANSFORMS

    def __init__(self) -> None:
        super().__init__()
        self._spectrogram_output = False
        self._by_step: dict[tuple[str, int], tuple[dict, Any]] = {}

    def transform(self, name: str, params: dict[str, Any]) -> Any:
        """The built transform, found by the identity of ``params`` first: a plan's params
        are its recipe step's own dict for every sample (:meth:`draw`), and this skips the
        per-call key of the shared cache (a JSON dump), a fixed cost per step and sample."""
        key = (name, id(params))
        hit = self._by_step.get(key)
        if hit is None or hit[0] is not params:  # the dict is held, so its id is not reused
            if len(self._by_step) >= self.max_cached:
                self._by_step.clear()
            hit = self._by_step[key] = (params, super().transform(name, params))
        return hit[1]

    def versions(self) -> dict[str, str]:
        import librosa
        import soundfile

        return {"numpy": np.__version__, "librosa": librosa.__version__, "soundfile": soundfile.__version__,
                "libsndfile": soundfile.__libsndfile_version__}

    def prepare(self, loaded: "LoadedRecipe") -> None:
        """Outputs are ``.npy`` log-mel arrays when the recipe asks or a step needs one."""
        leaves, todo = [], list(loaded.steps)
        while todo:
            step = todo.pop()
            todo += step.children
            leaves += [] if step.is_group else [step]
        self._spectrogram_output = loaded.recipe.output == "spectrogram" or any(
            AUDIO_TRANSFORMS.get(s.name).domain == "spectrogram" for s in leaves)

    # ------------------------------------------------------------- draw / load / apply

    def draw(self, steps: list["Step"], rng: np.random.Generator, ctx: Context, row: "dict[str, Any]") -> list[dict]:
        """Which steps run; their values are drawn in :meth:`apply`, on the data they see."""
        return draw_plan(steps, rng, lambda step: {"name": step.name, "params": step.params})

    def load(self, row: "dict[str, Any]", ctx: Context) -> AudioSample:
        from augment.audio.decode import read_audio
        from curate.io.manifest import media_file

        file = media_file(row["root"], row["path"])
        _check_unchanged(file, row.get("size_bytes"))
        decoded = read_audio(file)
        return AudioSample(decoded.data, decoded.sample_rate, decoded.format, decoded.subtype, row=row)

    def apply(self, sample: AudioSample, plan: list[dict], seed: int, ctx: Context) -> tuple[AudioSample, list[dict]]:
        """Run ``plan`` step by step (``sample`` is left as it is); a silent sample meeting an
        SNR-based step raises :class:`~augment.plugin.SkipSample`."""
        recipe = ctx.recipe
        out, applied = sample, []
        for k, entry in enumerate(plan):
            transform = self.transform(entry["name"], entry["params"])
            if transform.needs_signal and out.kind == "waveform" and rms_dbfs(out.data) < SILENCE_DBFS:
                raise SkipSample(f"silent or near-silent input (RMS below {SILENCE_DBFS:g} dBFS): "
                                 f"{entry['name']} needs a signal to set an SNR")
            if transform.domain == "spectrogram" and out.kind == "waveform":
                out = self._to_log_mel(out, recipe)
            drawn = transform.get_params(out.data, out.sr, np.random.default_rng([int(seed), k]))
            data = transform.apply(out.data, out.sr, **drawn)
            applied.append({"name": entry["name"], "drawn": drawn})
            out = replace(out, data=np.ascontiguousarray(data, dtype=np.float32))
        if out.kind == "waveform":
            if recipe.resample and recipe.resample != out.sr:
                import librosa

                data = librosa.resample(out.data, orig_sr=out.sr, target_sr=recipe.resample)
                applied.append({"name": "resample", "drawn": {"from": out.sr, "to": recipe.resample}})
                out = replace(out, data=data.astype(np.float32), sr=int(recipe.resample))
            peak = float(max(out.data.max(), -out.data.min())) if out.data.size else 0.0
            if peak > 1.0 and recipe.clip_guard == "limit":
                from augment.audio.waveform import soft_limit

                applied.append({"name": "limit", "drawn": {"peak": round(peak, 6), "threshold_dbfs": LIMIT_DBFS,
                                                           "ceiling": PEAK}})
                out = replace(out, data=soft_limit(out.data, 10 ** (LIMIT_DBFS / 20), PEAK))
            elif peak > 1.0:
                applied.append({"name": "peak_normalize", "drawn": {"peak": round(peak, 6), "factor": PEAK / peak}})
                out = replace(out, data=(out.data * np.float32(PEAK / peak)).astype(np.float32))
        return out, applied

    def gate_features(self, sample: AudioSample, ctx: Context) -> np.ndarray:
        """Mean and spread over time of each log-mel band (channels averaged): the timbre of
        a sound, which a spoken word keeps through gain, shift and noise."""
        spectrogram = sample if sample.kind == "spectrogram" else self._to_log_mel(sample, ctx.recipe)
        bands = spectrogram.data.mean(axis=0)
        return np.concatenate([bands.mean(axis=1), bands.std(axis=1)])

    def _to_log_mel(self, sample: AudioSample, recipe) -> AudioSample:
        from augment.audio.spectrogram import log_mel

        params = (recipe.log_mel or LogMel()).model_dump()
        return replace(sample, data=log_mel(sample.data, sample.sr, **params), kind="spectrogram", log_mel=params)

    # ------------------------------------------------------------- output

    def extension(self, row: "dict[str, Any]", fmt: str | None) -> str:
        if self._spectrogram_output:
            return ".npy"
        if fmt in ("wav", "flac"):
            return "." + fmt
        suffix = os.path.splitext(str(row["path"]))[1].lower()
        return suffix if suffix in _FORMATS else ".flac"

    def save(self, sample: AudioSample, path: str, fmt: str | None = None) -> bytes:
        buf = io.BytesIO()
        if sample.kind == "spectrogram":
            np.save(buf, sample.data, allow_pickle=False)
            return buf.getvalue()
        import soundfile as sf

        container = _FORMATS[os.path.splitext(path)[1].lower()]
        subtype = sample.subtype if sf.check_format(container, sample.subtype) else None
        with sf.SoundFile(buf, "w", sample.sr, sample.data.shape[0], subtype, format=container) as f:
            # libsndfile stamps a float WAV's PEAK chunk with the wall clock: without the
            # chunk, the same sample encodes to the same bytes in any second (replay, resume)
            sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, sf._snd.SF_FALSE)
            f.write(sample.data.T)
        return buf.getvalue()

    def output(self, sample: AudioSample, applied: list[dict], path: str, ctx: Context) -> Output:
        """The file at ``path`` and its manifest columns; a log-mel output records the
        parameters it was computed with (the training harness needs them)."""
        if path.endswith(".npy") and sample.kind == "waveform":  # output: spectrogram, or a plan without its spectrogram steps
            sample = self._to_log_mel(sample, ctx.recipe)
        columns: dict[str, Any] = {"sample_rate": sample.sr, "channels": int(sample.data.shape[0])}
        if sample.kind == "waveform":
            columns["duration_s"] = round(sample.data.shape[-1] / sample.sr, 6)
            columns["format"] = _FORMATS[os.path.splitext(path)[1].lower()]
        else:
            columns["format"] = "NPY"
            applied = applied + [{"name": "log_mel", "drawn": {"sample_rate": sample.sr, **sample.log_mel}}]
        return Output({path: self.save(sample, path)}, columns, applied)
