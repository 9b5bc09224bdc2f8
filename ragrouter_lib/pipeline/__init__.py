"""RAGRouter's data pipeline: perplexity-based sampling (``sampling``), question variants
(``variants``) and multi-source augmentation (``augmentation``), one training split's data
(``training_data``)."""
