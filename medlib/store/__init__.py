"""Where models and work are kept: the model store (:mod:`~medlib.store.folders`), a model's typed card
(:mod:`~medlib.store.card`) and a visitor's private workspace (:mod:`~medlib.store.workspace`)."""
