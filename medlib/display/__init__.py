"""Pictures for people: display windows (:mod:`~medlib.display.windowing`) and drawing on images
(:mod:`~medlib.display.drawing`)."""
