"""Is a model undertrained? Checks on a batch of its samples, with one message a person can act on.

A model trained too briefly (e.g. a few dozen iterations per scale on a real polyp) often draws empty masks,
all-object masks, or the same picture whatever the noise. :func:`assess_samples` counts those cases in a
:class:`~singanseg_core.model.samples.Samples` and flags the model when they are too common.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model.samples import Samples

EMPTY_PCT = 0.5        # a mask with at most this true-pixel % counts as empty
FULL_PCT = 99.5        # ... at least this, as full
IDENTICAL_LEVELS = 2.0  # two images whose mean absolute difference is below this many grey levels are the same
ADVICE = "train longer (more iterations per scale)"


@dataclass
class QualityReport:
    """What :func:`assess_samples` found in ``n`` samples.

    Attributes:
        n: samples checked.
        empty, full: masks with (almost) no object / (almost) all object pixels (see :data:`EMPTY_PCT`).
        identical: samples whose image equals the first one within :data:`IDENTICAL_LEVELS` (the first counted).
        flagged: whether the model looks undertrained.
        message: one line: the problem and what to do, or that nothing was found.
        problems: one short line per failed check (empty when not flagged).
    """

    n: int
    empty: int
    full: int
    identical: int
    flagged: bool
    message: str
    problems: list[str] = field(default_factory=list)

    @property
    def empty_fraction(self) -> float:
        return self.empty / self.n if self.n else 0.0


def assess_samples(samples: Samples, max_empty_fraction: float = 0.3, max_full_fraction: float = 0.3,
                   check_identical: bool = True) -> QualityReport:
    """Flag a model whose samples are mostly empty masks (the usual sign of too little training), mostly
    full masks, or all the same image.

    Args:
        samples: a batch from :meth:`SinGANSeg.sample` (start scale 0 for the identity check to mean anything).
        max_empty_fraction: flag when more than this fraction of masks is empty (default 0.3).
        max_full_fraction: flag when more than this fraction is (almost) entirely object.
        check_identical: flag when every sample (at least 3) is the same image, i.e. the noise is ignored.
    Returns:
        :class:`QualityReport`; ``message`` is e.g. ``"undertrained: 11 of 16 samples have empty masks —
        train longer (more iterations per scale)"``.
    """
    n = len(samples)
    if n == 0:
        return QualityReport(0, 0, 0, 0, False, "no samples to check")
    pct = samples.true_pixel_pct
    empty, full = int((pct <= EMPTY_PCT).sum()), int((pct >= FULL_PCT).sum())
    first = samples.images[0].astype(np.int16)
    diffs = [float(np.abs(img.astype(np.int16) - first).mean()) for img in samples.images]
    identical = sum(d < IDENTICAL_LEVELS for d in diffs)
    problems = []
    if empty > max_empty_fraction * n:
        problems.append(f"{empty} of {n} samples have empty masks")
    if full > max_full_fraction * n:
        problems.append(f"{full} of {n} samples have masks covering the whole image")
    if check_identical and n >= 3 and identical == n:
        problems.append(f"all {n} samples are the same image (the model ignores its noise)")
    if problems:
        message = f"undertrained: {'; '.join(problems)} — {ADVICE}"
    else:
        message = f"no sign of undertraining in {n} samples ({empty} empty and {full} full masks)"
    return QualityReport(n, empty, full, identical, bool(problems), message, problems)


__all__ = ["ADVICE", "EMPTY_PCT", "FULL_PCT", "QualityReport", "assess_samples"]


SEED_SEARCH_TRIES = 32  # seeds tried by next_seed_with_object (each one sample: milliseconds on a small model)
EMPTY_SEED_WHY = ("The coarsest scales decide the layout (where the object goes and whether there is one); an "
                  "undertrained model often draws nothing there, and the finer scales only add detail to that.")


def next_seed_with_object(model, seed: int, gen_start_scale: int = 0,  # noqa: ANN001 - SinGANSeg
                          tries: int = SEED_SEARCH_TRIES) -> int | None:
    """The first seed after ``seed`` (``seed + 1``, ``seed + 2``, ...) whose single sample at ``gen_start_scale``
    has an object in its mask (true pixels above :data:`EMPTY_PCT` %): the sample :meth:`SinGANSeg.trace` of
    that seed shows. At most ``tries`` seeds are drawn (bounded work); ``None`` when none of them has one."""
    from ..ranges import SEED_RANGE

    for candidate in range(int(seed) + 1, min(int(seed) + 1 + max(0, int(tries)), SEED_RANGE[1] + 1)):
        if float(model.sample(1, gen_start_scale, seed=candidate).true_pixel_pct[0]) > EMPTY_PCT:
            return candidate
    return None
