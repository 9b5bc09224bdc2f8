"""Encoders shared by every router: cached MiniLM / LM passes and the per-text feature store
(``encoders``), spaCy dependency parses for the syntactic branch (``syntax``)."""
