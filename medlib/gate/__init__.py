"""The out-of-distribution gate: is an image like those the models were trained on? The signals an image is
judged by and the verdict (:mod:`~medlib.gate.signals`), and the profiles the learned signals compare against
(:mod:`~medlib.gate.profile`)."""
