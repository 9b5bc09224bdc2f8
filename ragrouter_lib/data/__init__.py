"""Data: vendored files with checksums and loaders (``loading``), the packaged model weights
(``models``), the ``paper`` profile's Hub ids and stand-ins (``hub``), and the leakage guard that
keeps MMLU/GSM8K evaluation rows out of everything trained (``leakage``)."""
