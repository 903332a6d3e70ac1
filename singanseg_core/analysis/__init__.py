"""Analysis of masks: statistics (pure numpy/pandas, ``stats``), plotly figures (``figures``), and files written
from both (``report``)."""
