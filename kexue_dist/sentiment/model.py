"""Su's three LSTM classifiers (kexue.fm/archives/3863) and a masked char CNN, in PyTorch.

Su's models (Keras, 2016): tokens -> [one-hot | Embedding 256] -> LSTM(128) -> Dropout(0.5) -> Dense(1,
sigmoid). Every text is padded with id 0 AFTER its tokens to the fixed truncation length and the LSTM
reads the pads too (no masking); its state after the last position is the sentence vector. We mirror
Keras' initialisers (glorot-uniform input weights, orthogonal recurrent weights, forget-gate bias 1,
embeddings uniform +-0.05), since the long pad tail is easier to carry with a forget bias of 1.

One-hot input: an LSTM fed one-hot vectors e_x computes W_ih e_x = column x of W_ih (4H x V). We store
W_ih^T as an ``nn.Embedding(V, 4H)`` (``OneHotLSTMInput``) and give ``nn.LSTM`` a frozen identity input
matrix, so the gates see exactly W_ih e_x + b: the same function, the same parameters (V x 4H) and the
same gradients (hence the same RMSprop updates) as a literal (len x vocab) one-hot tensor, without
materialising it (tests/test_sentiment_model.py checks the equality against a literal one-hot LSTM).
A frozen-identity Embedding(V, V) in front of LSTM(V) would be the same function too, but costs a
(B*T x V) x (V x 4H) product per batch; the projection form costs a (4H x 4H) one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from kexue_dist.errors import UserError


@dataclass
class SentimentModelConfig:
    arch: Literal["lstm", "cnn"] = "lstm"
    input: Literal["onehot", "embedding"] = "embedding"  # lstm only; the cnn always embeds
    emb: int = 256  # embedding width (ignored for one-hot input)
    hidden: int = 128  # LSTM units
    dropout: float = 0.5
    # lstm: which state is the sentence vector. "final": after the pads, as Su (Keras, no masking);
    # "last_token": at each text's last real token, which is what masking would give.
    read: Literal["final", "last_token"] = "final"
    filters: int = 128  # cnn: feature maps per width
    widths: list[int] = field(default_factory=lambda: [2, 3, 4])  # cnn: kernel widths (in tokens)

    def validate(self, where: str) -> None:
        for name in ("emb", "hidden", "filters"):
            if getattr(self, name) < 1:
                raise UserError(f"{where}.{name}: must be > 0, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise UserError(f"{where}.dropout: must be in [0, 1), got {self.dropout}")
        if not self.widths or min(self.widths) < 1:
            raise UserError(f"{where}.widths: must be a non-empty list of positive widths, got {self.widths}")
        if self.arch == "cnn" and self.input == "onehot":
            raise UserError(f"{where}.input: onehot is for arch lstm (Su's model); the cnn embeds its input")


def _keras_lstm_init(lstm: nn.LSTM, init_input: bool) -> None:
    """Keras 1/2 LSTM defaults: glorot-uniform W_ih, orthogonal W_hh (per gate), biases 0 but forget 1."""
    hidden = lstm.hidden_size
    with torch.no_grad():
        if init_input:
            nn.init.xavier_uniform_(lstm.weight_ih_l0)
        for gate in range(4):
            nn.init.orthogonal_(lstm.weight_hh_l0[gate * hidden : (gate + 1) * hidden])
        lstm.bias_ih_l0.zero_()
        lstm.bias_hh_l0.zero_()
        lstm.bias_ih_l0[hidden : 2 * hidden] = 1.0  # torch gate order: input, forget, cell, output


class OneHotLSTMInput(nn.Module):
    """W_ih e_x for one-hot e_x, stored as W_ih^T (V x 4H) and looked up by index."""

    def __init__(self, vocab: int, hidden: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab, 4 * hidden))
        limit = (6.0 / (vocab + 4 * hidden)) ** 0.5  # glorot uniform of the (V x 4H) Keras kernel
        nn.init.uniform_(self.weight, -limit, limit)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(ids, self.weight)


class SuLSTM(nn.Module):
    """Su's classifier: (one-hot | embedding) -> LSTM(hidden) -> last state -> dropout -> logit."""

    def __init__(self, vocab: int, cfg: SentimentModelConfig):
        super().__init__()
        self.onehot = cfg.input == "onehot"
        self.read = cfg.read
        if self.onehot:
            self.inputs = OneHotLSTMInput(vocab, cfg.hidden)
            self.lstm = nn.LSTM(4 * cfg.hidden, cfg.hidden, batch_first=True)
            with torch.no_grad():
                self.lstm.weight_ih_l0.copy_(torch.eye(4 * cfg.hidden))
            self.lstm.weight_ih_l0.requires_grad_(False)
        else:
            self.inputs = nn.Embedding(vocab, cfg.emb)
            nn.init.uniform_(self.inputs.weight, -0.05, 0.05)
            self.lstm = nn.LSTM(cfg.emb, cfg.hidden, batch_first=True)
        _keras_lstm_init(self.lstm, init_input=not self.onehot)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden, 1)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """ids (B, T) padded after the text -> logits (B,). With ``read="final"`` (Su) ``lengths`` is
        ignored and the state after the pads is used."""
        outputs, (h, _) = self.lstm(self.inputs(ids))
        if self.read == "final":
            state = h[-1]
        else:  # causal LSTM: the output at position len-1 never saw the pads
            last = (lengths.to(ids.device) - 1).clamp(min=0)
            state = outputs[torch.arange(ids.size(0), device=ids.device), last]
        return self.out(self.dropout(state)).squeeze(-1)


class CharCNN(nn.Module):
    """Kim-style text CNN: embedding -> convolutions of several widths -> ReLU -> max over the
    positions inside the text (pads masked) -> dropout -> logit."""

    def __init__(self, vocab: int, cfg: SentimentModelConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.emb, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.emb, cfg.filters, w) for w in cfg.widths)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.filters * len(cfg.widths), 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        width = max(conv.kernel_size[0] for conv in self.convs)
        if ids.size(1) < width:  # a batch of very short texts: pad so every kernel fits once
            ids = nn.functional.pad(ids, (0, width - ids.size(1)))
        x = self.embed(ids).transpose(1, 2)  # (B, E, T)
        lengths = lengths.to(ids.device)
        pooled = []
        for conv in self.convs:
            y = torch.relu(conv(x))  # (B, F, T - w + 1); position i covers tokens i .. i + w - 1
            w = conv.kernel_size[0]
            valid = torch.arange(y.size(2), device=ids.device)[None] < (lengths - w + 1).clamp(min=1)[:, None]
            pooled.append(y.masked_fill(~valid[:, None, :], 0.0).amax(2))  # ReLU >= 0, so 0 is neutral
        return self.out(self.dropout(torch.cat(pooled, 1))).squeeze(-1)


def build_model(vocab: int, cfg: SentimentModelConfig) -> nn.Module:
    return CharCNN(vocab, cfg) if cfg.arch == "cnn" else SuLSTM(vocab, cfg)
