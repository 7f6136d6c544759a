"""Answers: one image or volume through the models (:mod:`~medlib.answers.diagnose`,
:mod:`~medlib.answers.volume_diagnose`), and what is made of the answer: the picture, the anatomy's measurements,
the HTML report, DICOM SEG and SR, the files of an answer, and answers for many files (one by one or on a Dask
cluster)."""
