"""The audio plugin and its transforms: waveform and log-mel spectrogram."""
