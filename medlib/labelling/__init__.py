"""Labelling at the user's site: one image's labels (outlines, circles, class) as a person edits them
(:mod:`~medlib.labelling.labels`), the drawing a browser canvas edits them in (:mod:`~medlib.labelling.canvas`),
and the labelled set they are saved into, in the manifest layout every reader of medlib opens
(:mod:`~medlib.labelling.labelled_set`)."""
