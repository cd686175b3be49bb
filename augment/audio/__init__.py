"""The audio plugin: waveform and log-mel spectrogram transforms on librosa + soundfile."""
