"""The LSTMs of SVG, with recurrent state passed in and returned (never kept on the module).

Each runs a whole sequence in one call when its inputs are known in advance (teacher forcing,
context frames), or one step at a time during a rollout: the same ``forward(x, state)`` handles
both, with x of shape (B, T, in) and state ``None`` (zeros) or the state a previous call returned.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

State = tuple[Tensor, Tensor]


class LSTMPredictor(nn.Module):
    """Linear embed -> n stacked LSTM layers -> Linear -> tanh (SVG's ``frame_predictor``).

    Shapes: x (B, T, in_dim) -> y (B, T, out_dim) in [-1, 1], state ((n, B, H), (n, B, H)).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int, layers: int):
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Sequential(nn.Linear(hidden, out_dim), nn.Tanh())

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        h, state = self.lstm(self.embed(x), state)
        return self.out(h), state


class GaussianLSTM(nn.Module):
    """Linear embed -> n LSTM layers -> separate Linear heads for mu and logvar (SVG's posterior
    q(z_t | x_<=t) and learned prior p(z_t | x_<t)).

    logvar is bounded smoothly to [-logvar_bound, logvar_bound] (``b * tanh(raw / b)``) so that
    exp(logvar) and the KL cannot overflow.

    Shapes: x (B, T, in_dim) -> mu, logvar (B, T, z_dim), state.
    """

    def __init__(self, in_dim: int, z_dim: int, hidden: int, layers: int,
                 logvar_bound: float = 10.0):
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
        self.mu = nn.Linear(hidden, z_dim)
        self.logvar = nn.Linear(hidden, z_dim)
        self.logvar_bound = logvar_bound

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        h, state = self.lstm(self.embed(x), state)
        b = self.logvar_bound
        return self.mu(h), b * torch.tanh(self.logvar(h) / b), state
