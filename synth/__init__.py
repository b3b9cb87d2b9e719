"""A seeded synthetic multi-source company with planted segments and its ground truth."""
