"""The typed errors that ``medlib`` raises for bad input.

Every message says what is wrong and what the user can do about it, so that a
front end can show it as it is. Catch :class:`MedlibError` to catch them all.
"""

from __future__ import annotations


class MedlibError(Exception):
    """Base class of every error that ``medlib`` raises on purpose."""


class EmptyFileError(MedlibError):
    """The file holds no bytes at all."""


class NotAnImageError(MedlibError):
    """The bytes are not in any image format that ``medlib`` reads."""


class CorruptFileError(MedlibError):
    """The format is recognised but the file is truncated or damaged."""


class UnsupportedEncodingError(MedlibError):
    """The file is valid but its encoding cannot be decoded here."""


class NoPixelDataError(MedlibError):
    """A DICOM object that carries no image (a report, a plan, a DICOMDIR)."""


class ImageTooLargeError(MedlibError):
    """The image (or archive) is larger than the configured limit."""


class DatasetTooLargeError(ImageTooLargeError):
    """The images of a data set, each within the limits, are together too large to hold in memory (a cache on
    disk holds them: :func:`medlib.datasets.cache_dataset`)."""


class DatasetError(MedlibError):
    """A data set cannot be built from what was given."""


class UnsafeArchiveError(DatasetError):
    """A ZIP archive tries to escape its folder or expands too much."""


class SpecError(MedlibError):
    """A spec (preprocessing, augmentation, training config) names an unknown step or a value that is not allowed,
    or a step fails on its input."""


class ModelError(MedlibError):
    """A model cannot be built, loaded or used as asked."""


class StoreError(MedlibError):
    """The model store cannot do what was asked (bad name, missing or changed file, no space)."""


class UnsafeModelError(StoreError):
    """A model file that needs unsafe deserialisation (a Lambda layer, custom code) or a legacy format."""


class EvaluationError(MedlibError):
    """The labels and predictions cannot be evaluated as asked."""


class PacsError(MedlibError):
    """A PACS could not be reached, refused the request, or answered with something that is not what was asked."""
