#!/usr/bin/env python3
"""One POS-SCAN training step in PyTorch on the CPU: the peer of BenchmarkTrainStep.

Reads the batch the Go benchmark wrote (feats.f32: B x K x D float32; ids.i32 and nouns.u8:
B x L, 0-padded) and times forward, backward, grad-norm clip and Adam of the same model
(ALGORITHMS.md, "SCAN / POS-SCAN": image FC + l2norm, embedding + bi-GRU with the directions
averaged + l2norm, t2i attention over nouns, LeakyReLU 0.1, clipped l2norm, softmax lambda 9,
cosine, LSE lambda 6, hinge loss with the hardest negatives, margin 0.2, clip 2, Adam 2e-4) in
two ways:

  original    the attention written like SCAN's xattn_score_t2i: a Python loop over the
              captions, each against every image of the batch;
  vectorised  one batched computation over all (caption, image) pairs.

Prints one line per variant: "<variant> <seconds per step>" (mean of --steps steps after one
warm-up step). Usage: torch_step.py DIR B K D L VOCAB EMBED [--steps N] [--variants a,b]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def l2norm(x, dim):
    return x / (x.pow(2).sum(dim=dim, keepdim=True).sqrt() + 1e-8)


class POSSCAN(nn.Module):
    def __init__(self, vocab, d, embed, word_dim=300):
        super().__init__()
        self.fc = nn.Linear(d, embed)
        self.emb = nn.Embedding(vocab, word_dim)
        self.gru = nn.GRU(word_dim, embed, batch_first=True, bidirectional=True)
        self.embed = embed

    def encode(self, feats, ids, lengths):
        v = l2norm(self.fc(feats), -1)  # (B, K, E)
        x = self.emb(ids)  # (B, L, W)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        e = (out[:, :, : self.embed] + out[:, :, self.embed :]) / 2  # (B, L, E)
        return v, l2norm(e, -1)


def attend(v, e, mask):
    """Scores of every image against captions e (C, T, E) with noun mask (C, T).

    v: (I, K, E). Returns (I, C)."""
    s = torch.einsum("ike,cte->ictk", v, e)  # (I, C, T, K)
    s = F.leaky_relu(s, 0.1) * mask[None, :, :, None]
    s = s / (s.pow(2).sum(dim=2, keepdim=True).sqrt() + 1e-8)  # clipped l2norm over words
    a = torch.softmax(9 * s, dim=3)  # (I, C, T, K)
    att = torch.einsum("ictk,ike->icte", a, v)  # (I, C, T, E)
    r = F.cosine_similarity(att, e[None], dim=3, eps=1e-8)  # (I, C, T)
    r = torch.where(mask[None] > 0, 6 * r, torch.full_like(r, -1e4))
    return torch.logsumexp(r, dim=2) / 6


def scores_original(v, e, mask):
    """SCAN's loop: one caption at a time against every image."""
    cols = []
    for c in range(e.shape[0]):
        cols.append(attend(v, e[c : c + 1], mask[c : c + 1]))
    return torch.cat(cols, dim=1)


def scores_vectorised(v, e, mask):
    return attend(v, e, mask)


def loss_fn(scores, margin=0.2):
    diag = scores.diag().view(-1, 1)
    cost_s = (margin + scores - diag).clamp(min=0)  # caption negatives per image
    cost_im = (margin + scores - diag.t()).clamp(min=0)  # image negatives per caption
    eye = torch.eye(scores.shape[0], dtype=torch.bool)
    cost_s = cost_s.masked_fill(eye, 0)
    cost_im = cost_im.masked_fill(eye, 0)
    return cost_s.max(1)[0].sum() + cost_im.max(0)[0].sum()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    for k in ("B", "K", "D", "L", "vocab", "embed"):
        ap.add_argument(k, type=int)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--variants", default="original,vectorised")
    a = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(os.cpu_count() or 1)
    feats = torch.from_numpy(np.fromfile(os.path.join(a.dir, "feats.f32"), dtype=np.float32).reshape(a.B, a.K, a.D))
    ids = torch.from_numpy(np.fromfile(os.path.join(a.dir, "ids.i32"), dtype=np.int32).reshape(a.B, a.L).astype(np.int64))
    nouns = torch.from_numpy(np.fromfile(os.path.join(a.dir, "nouns.u8"), dtype=np.uint8).reshape(a.B, a.L))
    lengths = (ids > 0).sum(1)
    # The noun slots: nouns of each caption packed to the front, T = most nouns in the batch.
    T = int(nouns.sum(1).max())
    slot = torch.zeros(a.B, T, dtype=torch.long)
    mask = torch.zeros(a.B, T)
    for c in range(a.B):
        pos = torch.nonzero(nouns[c]).flatten()
        slot[c, : len(pos)] = pos
        mask[c, : len(pos)] = 1
    for variant in a.variants.split(","):
        score = {"original": scores_original, "vectorised": scores_vectorised}[variant]
        model = POSSCAN(a.vocab, a.D, a.embed)
        opt = torch.optim.Adam(model.parameters(), lr=2e-4)

        def step():
            opt.zero_grad()
            v, e = model.encode(feats, ids, lengths)
            e = torch.gather(e, 1, slot[:, :, None].expand(-1, -1, a.embed))
            loss = loss_fn(score(v, e, mask))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            opt.step()
            return loss.item()

        step()
        start = time.perf_counter()
        for _ in range(a.steps):
            step()
        print(f"{variant} {(time.perf_counter() - start) / a.steps:.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
