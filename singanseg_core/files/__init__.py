"""Files in and out: atomic writes and folder locks (``atomic``), bounded image reading (``images``), training
pairs and their discovery (``pairs``), zip downloads (``zips``)."""
