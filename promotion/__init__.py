"""Promotion of model versions: gate metrics, gates, aliases with their history, promote and roll back."""
