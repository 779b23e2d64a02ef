"""Datasets: on-disk formats (``bair``) and built-in generators (``sim_push``)."""
