"""Preprocessing: the declarative pipeline of steps (:mod:`~medlib.preprocessing.pipeline`,
:mod:`~medlib.preprocessing.steps`), recording what it does to the geometry (:mod:`medlib.geometry`) so answers
come back by inverting it, and a volume model's resampling, normalisation and padding to its patch grid
(:mod:`~medlib.preprocessing.volumes`)."""
