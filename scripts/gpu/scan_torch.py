#!/usr/bin/env python3
"""SCAN's text-to-image training step in PyTorch, timed beside groundcap's device-resident step.

Two versions of the same step (image encoder, bidirectional GRU text encoder, stacked cross
attention t2i with clipped l2 norm and λ-softmax, LogSumExp pooling, hardest-negative triplet
loss, backward, global-norm clip 2.0, Adam):

  loop        xattn_score_t2i as SCAN's model.py computes it: one attention per caption against
              all images (the original code's loop over captions);
  vectorised  all captions at once, padded words masked out of the norm and the pooling.

Both run from the same weights; the script checks that their first losses agree, then times
each (mean over --reps steps after two warm-up steps, torch.cuda.synchronize around). Products
are fp32: TF32 is turned off. Run by scripts/gpu/check.sh; the figures go to docs/bench/gpu.md.

    /opt/torch/.venv/bin/python scripts/gpu/scan_torch.py [--batch 128 --embed 1024 ...]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def l2norm(x, dim, eps=1e-8):
    """SCAN's l2norm: x / (‖x‖ + eps) along dim."""
    norm = torch.pow(x, 2).sum(dim=dim, keepdim=True).sqrt() + eps
    return torch.div(x, norm)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """SCAN's cosine_similarity."""
    w12 = torch.sum(x1 * x2, dim)
    w1 = torch.norm(x1, 2, dim)
    w2 = torch.norm(x2, 2, dim)
    return (w12 / (w1 * w2).clamp(min=eps)).squeeze()


class SCAN(nn.Module):
    """The encoders of SCAN (EncoderImagePrecomp, EncoderText with a bidirectional GRU)."""

    def __init__(self, vocab, word_dim, img_dim, embed):
        super().__init__()
        self.embed_size = embed
        self.fc = nn.Linear(img_dim, embed)
        r = (6.0 ** 0.5) / ((img_dim + embed) ** 0.5)
        self.fc.weight.data.uniform_(-r, r)
        self.fc.bias.data.fill_(0)
        self.embed = nn.Embedding(vocab, word_dim)
        self.embed.weight.data.uniform_(-0.1, 0.1)
        self.rnn = nn.GRU(word_dim, embed, 1, batch_first=True, bidirectional=True)

    def images(self, feats):
        return l2norm(self.fc(feats), -1)

    def captions(self, ids, lengths):
        x = self.embed(ids)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        padded, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.size(1))
        e = self.embed_size
        cap = (padded[:, :, :e] + padded[:, :, e:]) / 2
        return l2norm(cap, -1)


def func_attention(query, context, smooth):
    """SCAN's func_attention with raw_feature_norm clipped_l2norm.

    query (n, queryL, d), context (n, sourceL, d) -> weighted context (n, queryL, d)."""
    batch_size, query_l = query.size(0), query.size(1)
    source_l = context.size(1)
    attn = torch.bmm(context, torch.transpose(query, 1, 2))  # (n, sourceL, queryL)
    attn = F.leaky_relu(attn, 0.1)
    attn = l2norm(attn, 2)
    attn = torch.transpose(attn, 1, 2).contiguous()  # (n, queryL, sourceL)
    attn = attn.view(batch_size * query_l, source_l)
    attn = F.softmax(attn * smooth, dim=1)
    attn = attn.view(batch_size, query_l, source_l)
    attn_t = torch.transpose(attn, 1, 2).contiguous()  # (n, sourceL, queryL)
    weighted = torch.bmm(torch.transpose(context, 1, 2), attn_t)  # (n, d, queryL)
    return torch.transpose(weighted, 1, 2)


def scores_loop(images, captions, lengths, lam_softmax, lam_lse):
    """SCAN's xattn_score_t2i: a loop over captions -> scores (n_image, n_caption)."""
    sims = []
    n_image = images.size(0)
    for i in range(captions.size(0)):
        n_word = int(lengths[i])
        cap_i = captions[i, :n_word, :].unsqueeze(0).contiguous()
        cap_i_expand = cap_i.repeat(n_image, 1, 1)
        weighted = func_attention(cap_i_expand, images, lam_softmax)
        row = cosine_similarity(cap_i_expand, weighted.contiguous(), dim=2)
        if row.dim() == 1:  # a one-word caption: squeeze dropped the word axis
            row = row.unsqueeze(1)
        row = torch.log(torch.exp(row * lam_lse).sum(dim=1, keepdim=True)) / lam_lse
        sims.append(row)
    return torch.cat(sims, 1)


def scores_vectorised(images, captions, lengths, lam_softmax, lam_lse):
    """The same scores for all captions at once (padded words masked)."""
    n_c, words, _ = captions.shape
    mask = (torch.arange(words, device=captions.device)[None, :] < lengths[:, None]).to(images.dtype)  # (n_c, L)
    attn = torch.einsum("ikd,cld->ickl", images, captions)  # (n_i, n_c, K, L)
    attn = F.leaky_relu(attn, 0.1) * mask[None, :, None, :]
    attn = attn / (attn.pow(2).sum(-1, keepdim=True).sqrt() + 1e-8)  # l2 norm over the words
    attn = F.softmax(attn.transpose(2, 3) * lam_softmax, dim=-1)  # (n_i, n_c, L, K)
    weighted = torch.einsum("iclk,ikd->icld", attn, images)  # (n_i, n_c, L, d)
    w12 = (captions[None] * weighted).sum(-1)
    w1 = captions.norm(2, -1)[None]
    w2 = weighted.norm(2, -1)
    row = w12 / (w1 * w2).clamp(min=1e-8)  # (n_i, n_c, L)
    return torch.log((torch.exp(row * lam_lse) * mask[None]).sum(-1)) / lam_lse


def contrastive_loss(scores, margin=0.2):
    """SCAN's ContrastiveLoss with max_violation."""
    diagonal = scores.diag().view(scores.size(0), 1)
    d1 = diagonal.expand_as(scores)
    d2 = diagonal.t().expand_as(scores)
    cost_s = (margin + scores - d1).clamp(min=0)
    cost_im = (margin + scores - d2).clamp(min=0)
    eye = torch.eye(scores.size(0), device=scores.device) > 0.5
    cost_s = cost_s.masked_fill(eye, 0)
    cost_im = cost_im.masked_fill(eye, 0)
    return cost_s.max(1)[0].sum() + cost_im.max(0)[0].sum()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--regions", type=int, default=36)
    p.add_argument("--feat", type=int, default=2048)
    p.add_argument("--embed", type=int, default=1024)
    p.add_argument("--word-dim", type=int, default=300)
    p.add_argument("--vocab", type=int, default=10000)
    p.add_argument("--words", type=int, default=12, help="mean caption length (lengths words-4 … words+4)")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    dev = torch.device(a.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    print(f"torch {torch.__version__}, {name}, fp32 (TF32 off)")
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(a.batch, a.regions, a.feat, generator=g).to(dev)
    lengths = torch.randint(max(1, a.words - 4), a.words + 5, (a.batch,), generator=g)
    ids = torch.randint(1, a.vocab, (a.batch, int(lengths.max())), generator=g)
    for i, n in enumerate(lengths.tolist()):
        ids[i, n:] = 0
    ids, lengths_dev = ids.to(dev), lengths.to(dev)
    torch.manual_seed(1)
    model = SCAN(a.vocab, a.word_dim, a.feat, a.embed).to(dev)
    lam_softmax, lam_lse = 9.0, 6.0

    # The loop reads each caption's length on the host, as the original code's list cap_lens
    # (a CUDA tensor would synchronise once per caption); the vectorised version masks on the GPU.
    lengths_list = lengths.tolist()

    def loss_of(scores_fn):
        img = model.images(feats)
        cap = model.captions(ids, lengths_dev)
        lens = lengths_list if scores_fn is scores_loop else lengths_dev
        return contrastive_loss(scores_fn(img, cap, lens, lam_softmax, lam_lse))

    with torch.no_grad():
        l_loop, l_vec = loss_of(scores_loop).item(), loss_of(scores_vectorised).item()
    rel = abs(l_loop - l_vec) / abs(l_loop)
    print(f"first loss: loop {l_loop:.7g}, vectorised {l_vec:.7g} (rel {rel:.2g})")
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    def step(scores_fn):
        opt.zero_grad()
        loss = loss_of(scores_fn)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        opt.step()
        return loss

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    shape = f"batch {a.batch}, {a.regions}x{a.feat} regions, {a.words}±4 words, embed {a.embed}"
    for label, fn in (("loop over captions (SCAN's code)", scores_loop), ("vectorised", scores_vectorised)):
        for _ in range(2):
            step(fn)
        sync()
        t0 = time.perf_counter()
        for _ in range(a.reps):
            step(fn)
        sync()
        ms = (time.perf_counter() - t0) / a.reps * 1000
        print(f"SCAN t2i step, {label} ({shape}): {ms:.2f} ms (mean of {a.reps})")
    if rel > 1e-4:
        raise SystemExit(f"the two versions' losses differ by {rel:.2g}")


if __name__ == "__main__":
    main()
