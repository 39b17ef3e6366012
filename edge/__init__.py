"""edge: train, convert and run object detectors on Raspberry Pi and Coral boxes."""

__version__ = "0.1.0"
