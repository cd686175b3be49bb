"""The audio plugin's recipe-search pool (audiomentations' usual knobs): noise SNR from
inaudible (80 dB) at magnitude 0 to loud (5 dB) at 10, gain, shift, stretch and pitch
from none to their strongest."""

from augment.magnitude import MagnitudeOp

MAGNITUDE_OPS = {
    "noise": MagnitudeOp("noise", "snr_db", 80, 5, "value"),
    "gain": MagnitudeOp("gain", "db", 0, 12, "symmetric"),
    "shift": MagnitudeOp("shift", "seconds", 0, 0.2, "symmetric"),
    "time_stretch": MagnitudeOp("time_stretch", "rate", 1, 1.3, "reciprocal"),
    "pitch_shift": MagnitudeOp("pitch_shift", "semitones", 0, 4, "symmetric"),
}
DEFAULT_POOL = ("noise", "gain", "shift", "time_stretch", "pitch_shift")
