"""Seam dissimilarities and text-aware evidence between pieces.

Pieces are handled as *ink* arrays of shape (K, h, w) in [0, 1] (1 = black): K = 1 for one-sided
pages, K = 2 for two-sided pieces seen from the front (channel 0 = front face, channel 1 = back face
mirrored left-right so that its columns line up with the front).
"""

from __future__ import annotations

import numpy as np

SEAM_COSTS = ("l1", "pred", "mix")


def to_ink(grey: np.ndarray) -> np.ndarray:
    return 1.0 - grey.astype(np.float32) / 255.0


def edge_dissimilarity(a1, a2, b1, b2, kind: str = "mix") -> np.ndarray:
    """Cost matrix between edges.

    a1: (n, L) the edge of piece i facing the seam, a2: the line one pixel further inside i;
    b1, b2 the same for the candidate neighbours j. Returns (n, m): cost of putting j across i's edge.
    """
    a1 = a1.astype(np.float32)
    b1 = b1.astype(np.float32)
    out = np.zeros((a1.shape[0], b1.shape[0]), np.float32)
    if kind in ("l1", "mix"):
        out += np.abs(a1[:, None, :] - b1[None, :, :]).sum(-1)
    if kind in ("pred", "mix"):
        pa = 2 * a1 - a2  # i extrapolated one pixel across the seam
        pb = 2 * b1 - b2
        out += 0.5 * (np.abs(pa[:, None, :] - b1[None]).sum(-1) + np.abs(pb[None] - a1[:, None]).sum(-1))
    if kind not in SEAM_COSTS:
        raise ValueError(kind)
    return out


def _smooth(x: np.ndarray) -> np.ndarray:
    """Light [1 2 1]/4 smoothing along the seam (last axis): tolerant of 1 px jitter."""
    p = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(1, 1)], mode="edge")
    return 0.25 * p[..., :-2] + 0.5 * p[..., 1:-1] + 0.25 * p[..., 2:]


def horizontal_costs(ink: np.ndarray, kind: str = "mix") -> np.ndarray:
    """H[i, j] = cost of j directly right of i. ink: (n, K, h, w)."""
    n = ink.shape[0]
    R1 = _smooth(ink[:, :, :, -1].reshape(n, -1))
    R2 = _smooth(ink[:, :, :, -2].reshape(n, -1))
    L1 = _smooth(ink[:, :, :, 0].reshape(n, -1))
    L2 = _smooth(ink[:, :, :, 1].reshape(n, -1))
    H = edge_dissimilarity(R1, R2, L1, L2, kind)
    np.fill_diagonal(H, np.inf)
    return H


def vertical_costs(ink: np.ndarray, kind: str = "mix") -> np.ndarray:
    """V[i, j] = cost of j directly below i."""
    n = ink.shape[0]
    B1 = _smooth(ink[:, :, -1, :]).reshape(n, -1)
    B2 = _smooth(ink[:, :, -2, :]).reshape(n, -1)
    T1 = _smooth(ink[:, :, 0, :]).reshape(n, -1)
    T2 = _smooth(ink[:, :, 1, :]).reshape(n, -1)
    V = edge_dissimilarity(B1, B2, T1, T2, kind)
    np.fill_diagonal(V, np.inf)
    return V


def strip_vertical_cost(strips: np.ndarray, kind: str = "mix") -> np.ndarray:
    """Cost of strip j below strip i for whole row strips (m, K, h, W)."""
    return vertical_costs(strips, kind)


def normalise(C: np.ndarray) -> np.ndarray:
    """Confidence normalisation: divide by the typical second-best cost of each row and column."""
    finite = np.where(np.isfinite(C), C, np.nan)
    srt_r = np.sort(np.nan_to_num(finite, nan=np.inf), axis=1)
    srt_c = np.sort(np.nan_to_num(finite, nan=np.inf), axis=0)
    second_r = srt_r[:, 1] if C.shape[1] > 1 else srt_r[:, 0]
    second_c = srt_c[1, :] if C.shape[0] > 1 else srt_c[0, :]
    scale = np.nanmedian(np.concatenate([second_r[np.isfinite(second_r)], second_c[np.isfinite(second_c)]]))
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    # per-edge confidence: relative to the second-best alternative on each side
    denom = 0.5 * (second_r[:, None] + second_c[None, :]) + 0.25 * scale
    return C / denom


def best_buddies(C: np.ndarray) -> np.ndarray:
    """Boolean matrix: i's best right neighbour is j and j's best left neighbour is i (ties allowed)."""
    rmin = C.min(axis=1, keepdims=True)
    cmin = C.min(axis=0, keepdims=True)
    return (C <= rmin + 1e-6) & (C <= cmin + 1e-6)


# ---------------------------------------------------------------- text-aware evidence

def ink_mask(ink: np.ndarray, thr: float = 0.5) -> np.ndarray:
    return ink > thr


def margins(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Blank widths (pixels) at the left/right/top/bottom of each piece, min over channels. (n,)"""
    m = ink_mask(ink)
    n, K, h, w = m.shape
    col = m.any(axis=2)  # n, K, w
    row = m.any(axis=3)  # n, K, h

    def first(a, size):
        has = a.any(-1)
        idx = np.argmax(a, axis=-1)
        return np.where(has, idx, size)

    left = first(col, w).min(1)
    right = first(col[..., ::-1], w).min(1)
    top = first(row, h).min(1)
    bottom = first(row[..., ::-1], h).min(1)
    return left, right, top, bottom


def line_profiles(ink: np.ndarray) -> np.ndarray:
    """Where text lines sit inside each piece: (n, K*h) rows with ink, lightly dilated."""
    m = ink_mask(ink).any(axis=3).astype(np.float32)  # n, K, h
    d = m.copy()
    d[..., 1:] = np.maximum(d[..., 1:], m[..., :-1])
    d[..., :-1] = np.maximum(d[..., :-1], m[..., 1:])
    return d.reshape(ink.shape[0], -1)


def profile_cost(P: np.ndarray, T: np.ndarray, alpha: float = 0.35) -> np.ndarray:
    """Cost of pieces (profiles P, (n, L)) joining rows (templates T, (r, L) in [0, 1]).

    Ink where the row's lines have a gap is strong evidence against; a missing line (a blank stretch of
    text) is weak evidence.
    """
    P = P.astype(np.float32)
    T = T.astype(np.float32)
    ink_in_gap = P @ (1.0 - T).T
    missing = (1.0 - P) @ T.T
    return (ink_in_gap + alpha * missing) / P.shape[1]


def profile_pair_cost(P: np.ndarray) -> np.ndarray:
    """Symmetric row-compatibility between pieces: share of rows where exactly one of them has ink,
    counting only rows where both pieces show some text nearby."""
    P = P.astype(np.float32)
    diff = P @ (1 - P).T
    diff = diff + diff.T
    return diff / P.shape[1]


# ---------------------------------------------------------------- text-line geometry

def line_features(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the text lines sit inside each piece, as a unit vector per oriented piece.

    Pieces cut from the same band of the page have their lines (Chinese character tops/bottoms,
    English x-height lines and baselines) at exactly the same heights, so the horizontal ink
    projection and its derivative agree at shift 0. Returns (F, conf): F (n, K*2*h) unit rows
    (centred density and smoothed derivative, each channel), conf (n,) how much line evidence the
    piece carries (0 for blank pieces).
    """
    from scipy.ndimage import gaussian_filter1d

    n, Kc, h, w = ink.shape
    d = ink.astype(np.float32).mean(-1)  # n, K, h
    parts = []
    for k in range(Kc):
        dk = d[:, k]
        g = gaussian_filter1d(dk, 1.0, axis=1, order=1)
        dc = dk - dk.mean(1, keepdims=True)
        parts += [dc, 2.0 * g]
    F = np.concatenate(parts, axis=1)
    nrm = np.linalg.norm(F, axis=1)
    conf = np.clip(nrm / (np.median(nrm[nrm > 0]) + 1e-9 if (nrm > 0).any() else 1.0), 0, 1.0)
    F = F / (nrm[:, None] + 1e-9)
    return F.astype(np.float32), conf.astype(np.float32)


def line_pair_cost(F: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """(n, n) evidence that two pieces are NOT from the same band: (1 - correlation) x confidence."""
    corr = F @ F.T
    w = np.minimum(conf[:, None], conf[None, :])
    return np.clip(1.0 - corr, 0, 2) * w


def line_pitch(D: np.ndarray, lo: float = 30.0, hi: float = 130.0) -> float:
    """Line pitch (px) from row profiles D (m, h): the first strong peak of their mean autocorrelation."""
    m, h = D.shape
    X = D - D.mean(1, keepdims=True)
    lags = np.arange(int(lo), min(int(hi), h - 20))
    ac = np.array([np.sum(X[:, :-k] * X[:, k:]) / (np.sqrt(np.sum(X[:, :-k] ** 2) * np.sum(X[:, k:] ** 2)) + 1e-9)
                   for k in lags])
    if not len(ac):
        return float(h)
    top = ac.max()
    for t in range(1, len(ac) - 1):
        if ac[t] >= ac[t - 1] and ac[t] >= ac[t + 1] and ac[t] > 0.8 * top:
            # parabolic refinement
            a, b, c = ac[t - 1], ac[t], ac[t + 1]
            den = a - 2 * b + c
            off = 0.5 * (a - c) / den if den < 0 else 0.0
            return float(lags[t] + off)
    return float(lags[int(np.argmax(ac))])


def continuation_cost(D: np.ndarray, pitch: float) -> np.ndarray:
    """(m, m): 1 - correlation between row b's line profile and row a's continued one line pitch
    (or more) further down -- lines run on across a horizontal cut with the page's constant pitch."""
    m, h = D.shape
    y = np.arange(h, dtype=np.float64)
    k = np.ceil((y + h - (h - 1)) / pitch)
    src = y + h - k * pitch  # where in row a the line structure seen at y in row b repeats
    ok = (src >= 0) & (src <= h - 1)
    s0 = np.clip(np.floor(src).astype(int), 0, h - 2)
    fr = src - s0
    pred = D[:, s0] * (1 - fr) + D[:, s0 + 1] * fr  # (m, h) predicted profile of the row below
    P = pred[:, ok] - pred[:, ok].mean(1, keepdims=True)
    B = D[:, ok] - D[:, ok].mean(1, keepdims=True)
    P /= np.linalg.norm(P, axis=1, keepdims=True) + 1e-9
    B /= np.linalg.norm(B, axis=1, keepdims=True) + 1e-9
    C = 1.0 - P @ B.T
    np.fill_diagonal(C, np.inf)
    return C
