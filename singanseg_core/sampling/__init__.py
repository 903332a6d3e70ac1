"""Sample sets on disk: the ``manifest.csv`` schema (``manifest``) and the writer (``writer``), the zip download
(``zips``).
Sampling itself is :meth:`singanseg_core.model.SinGANSeg.sample`."""
