"""Preprocessing: the declarative pipeline of steps (:mod:`~medlib.preprocessing.pipeline`,
:mod:`~medlib.preprocessing.steps`), the invertible geometry it records (:mod:`~medlib.preprocessing.geometry`),
and a volume model's resampling, normalisation and sliding window (:mod:`~medlib.preprocessing.volumes`)."""
