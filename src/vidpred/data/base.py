"""What every dataset offers the training loop and evaluation."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: importing vidpred.data stays light
    import torch


@runtime_checkable
class VideoDataset(Protocol):
    """A split of a dataset, served as a fixed number of items, each a clip of ``seq_len``
    frames with its per-frame conditions. :func:`vidpred.data.make_dataset` returns one;
    :class:`~vidpred.data.bair.BairDataset`, :class:`~vidpred.data.dance.DanceDataset`,
    :class:`~vidpred.data.smmnist.SMMNISTDataset` and
    :class:`~vidpred.data.synthetic.SyntheticDataset` implement it.

    Items are numbered ``0 .. len(dataset) - 1``; an evaluation split (``train=False``) serves
    them in a fixed order, so item i is the same clip in every run.

    Attributes:
        seq_len: T, frames per item.
        n_sequences: distinct source sequences (or clips) the items are cut from; equal to
            ``len`` when every item is a whole sequence.
    """

    seq_len: int

    @property
    def n_sequences(self) -> int: ...

    def __len__(self) -> int:
        """Number of items."""
        ...

    def batch(self, indices: Sequence[int] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The items ``indices`` (B of them, any order, repeats allowed) as one batch.

        Returns:
            frames: float32 (B, T, C, H, W) in [0, 1], T = ``seq_len``; C is 3 (RGB) or 1 (grey).
            cond: the conditions of every frame, float32, either vectors (B, T, D) (``bair``:
                D = 7, ``synthetic``: D = ``cond_dim``, ``smmnist``: D = 0, no condition) or
                label images (B, T, 3, H, W) in [0, 1] (``dance``: pose skeletons).

        Raises:
            DataError: an item that cannot be served (e.g. a test sequence without ground truth).
        """
        ...
