"""medlib: the library behind the medical-imaging dashboard.

Readers, data sets, the synthetic chest-film phantom and the command line.
Importing it never imports TensorFlow or Streamlit.
"""

from medlib.errors import MedlibError
from medlib.input import read_image
from medlib.input.image import MedImage, Window

__version__ = "0.1.0"
__all__ = ["MedImage", "MedlibError", "Window", "read_image", "__version__"]
