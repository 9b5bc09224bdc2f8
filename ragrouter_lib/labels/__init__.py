"""Labels: the training pool with one "strong needed" meaning per source (``pool_labels``),
Arena-form pairwise battles and model tiers (``pairwise``), the per-source transfer table
(``sources``) and label alignment across sources (``alignment``)."""
