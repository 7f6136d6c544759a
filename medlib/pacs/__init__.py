"""The way in from a hospital's PACS and back: its settings (:mod:`medlib.pacs.settings`) and a DICOMweb client
(:mod:`medlib.pacs.dicomweb`)."""

from medlib.pacs.dicomweb import Pacs, Stored, Study
from medlib.pacs.settings import PacsSettings, pacs_settings

__all__ = ["Pacs", "PacsSettings", "Stored", "Study", "pacs_settings"]
