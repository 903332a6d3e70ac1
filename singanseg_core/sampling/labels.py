"""Words for a set of samples, as the Sample page shows them: its default folder name, a one-line description of
its settings and the redraw option's help."""

from __future__ import annotations

from typing import Sequence

REDRAW_HELP = ("0 = off (the paper: every draw is kept). N = a sample whose mask comes out empty is drawn again "
               "from fresh seeded noise, up to N times; samples with an object are unchanged. Small objects at "
               "start scale 0 often come out empty; this keeps the draws that have one (the set's statistics "
               "change).")


def sample_set_name(checkpoints: Sequence[str], gen_start_scale: int, seed: int, redraw_empty: int = 0) -> str:
    """``<first checkpoint>[-etc]-s<K>-seed<S>[-redraw<N>]``: a default folder name that states the settings."""
    more = "-etc" if len(checkpoints) > 1 else ""
    return f"{checkpoints[0]}{more}-s{gen_start_scale}-seed{seed}" + (f"-redraw{redraw_empty}" if redraw_empty else "")


def describe_sampling(gen_start_scale: int, seed: int, redraw_empty: int = 0) -> str:
    """``start scale 0, seed 3[, empty masks redrawn up to 4x]``."""
    return f"start scale {gen_start_scale}, seed {seed}" + (f", empty masks redrawn up to {redraw_empty}x"
                                                            if redraw_empty else "")
