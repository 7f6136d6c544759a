"""Models: the architectures (:mod:`~medlib.models.architectures`), loading a stored model with its card's
preprocessing (:mod:`~medlib.models.loaded`), predicting in batches and tiles (:mod:`~medlib.models.predict`),
heat maps (:mod:`~medlib.models.heatmaps`), fold ensembles and safe loading."""
