"""Files in and out: atomic writes and folder locks (``atomic``), bounded image reading (``images``), training
pairs and their discovery (``pairs``), browser uploads (``uploads``). The sample-set zip download is
``sampling.zips`` (it reads the samples manifest)."""
