"""The authors' published SinGAN-Seg checkpoints: a restricted reader for their pickles (``unpickler``), the
import into our format (``importer``) and the download of the 1000 published models (``download``)."""
