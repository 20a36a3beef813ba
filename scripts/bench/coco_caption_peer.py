#!/usr/bin/env python3
"""Python baseline for the whole-process `groundcap score` benchmark: the work coco-caption's
COCOEvalCap does for BLEU-1..4, ROUGE-L and CIDEr-D on pre-tokenised captions (no PTB tokeniser,
no METEOR/SPICE), as a separate process.

With --impl=pycocoevalcap (the default when the package imports) it runs pycocoevalcap itself:
COCO(refs), loadRes(preds), then its Bleu(4), Rouge and Cider scorers on the whitespace-split
captions. Without it (--impl=local) it runs this file's implementation, written from the formulas
in ALGORITHMS.md in the reference tool's way: n-gram counts in per-caption Python dicts keyed by
word tuples, BLEU from cooked references with option 'closest', ROUGE-L from a full LCS table per
reference, CIDEr-D from tf-idf vectors in dicts with NumPy accumulators; corpus and per-image scores
as COCOEvalCap keeps them. Both read the same files `groundcap score --tokenize=false` reads: a COCO
annotation file ({"annotations": [{"image_id", "caption"}], "images": [{"id"}]}) and a COCO results
list. Prints one JSON line: the corpus scores, the number of images and the seconds spent.

Used by BenchmarkScoreProcess in cmd/groundcap (Debian: apt-get install python3-numpy).
"""
import argparse
import json
import math
import sys
import time
from collections import defaultdict

import numpy as np

TINY = 1e-15
SMALL = 1e-9
BETA = 1.2
SIGMA = 6.0
N = 4


def precook(words, n=N):
    """Counts of the 1..n-grams of a word list, keyed by word tuples."""
    counts = defaultdict(int)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


class Bleu:
    """BLEU-1..4 with the effective reference length 'closest' (ties to the shorter)."""

    def compute_score(self, gts, res):
        crefs, ctest = [], []
        for img in gts:
            refs = [r.split() for r in gts[img]]
            hyp = res[img][0].split()
            maxcounts = {}
            for ref in refs:
                for g, c in precook(ref).items():
                    maxcounts[g] = max(maxcounts.get(g, 0), c)
            reflen = [len(r) for r in refs]
            crefs.append((reflen, maxcounts))
            counts = precook(hyp)
            test = {'testlen': len(hyp), 'reflen': reflen,
                    'guess': [max(0, len(hyp) - k + 1) for k in range(1, N + 1)], 'correct': [0] * N}
            for g, c in counts.items():
                test['correct'][len(g) - 1] += min(maxcounts.get(g, 0), c)
            ctest.append(test)

        total = {'guess': [0] * N, 'correct': [0] * N}
        testlen_sum = reflen_sum = 0
        per_image = [[] for _ in range(N)]
        for comps in ctest:
            testlen = comps['testlen']
            reflen = min((abs(l - testlen), l) for l in comps['reflen'])[1]
            testlen_sum += testlen
            reflen_sum += reflen
            for key in ('guess', 'correct'):
                for k in range(N):
                    total[key][k] += comps[key][k]
            b = 1.0
            for k in range(N):
                b *= (float(comps['correct'][k]) + TINY) / (float(comps['guess'][k]) + SMALL)
                per_image[k].append(b ** (1.0 / (k + 1)))
            ratio = (testlen + TINY) / (reflen + SMALL)
            if ratio < 1:
                for k in range(N):
                    per_image[k][-1] *= math.exp(1 - 1 / ratio)
        bleus = []
        b = 1.0
        for k in range(N):
            b *= float(total['correct'][k] + TINY) / (total['guess'][k] + SMALL)
            bleus.append(b ** (1.0 / (k + 1)))
        ratio = (testlen_sum + TINY) / (reflen_sum + SMALL)
        if ratio < 1:
            for k in range(N):
                bleus[k] *= math.exp(1 - 1 / ratio)
        return bleus, per_image


def lcs(a, b):
    """Length of the longest common subsequence, from the full (len(a)+1)×(len(b)+1) table."""
    if len(a) < len(b):
        a, b = b, a
    table = [[0 for _ in range(len(b) + 1)] for _ in range(len(a) + 1)]
    for j in range(1, len(b) + 1):
        for i in range(1, len(a) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[len(a)][len(b)]


class Rouge:
    """ROUGE-L with β = 1.2, precision and recall maxima over references taken independently."""

    def calc_score(self, candidate, refs):
        cand = candidate[0].split(" ")
        prec, rec = [], []
        for ref in refs:
            r = ref.split(" ")
            l = lcs(r, cand)
            prec.append(l / float(len(cand)))
            rec.append(l / float(len(r)))
        p, r = max(prec), max(rec)
        if p != 0 and r != 0:
            return ((1 + BETA ** 2) * p * r) / float(r + BETA ** 2 * p)
        return 0.0

    def compute_score(self, gts, res):
        scores = [self.calc_score(res[img], gts[img]) for img in gts]
        return np.mean(np.array(scores)), np.array(scores)


class Cider:
    """CIDEr-D: document frequencies over the evaluated references, σ = 6, clipped tf-idf, ×10."""

    def compute_score(self, gts, res):
        crefs = [[precook(r.split()) for r in gts[img]] for img in gts]
        ctest = [precook(res[img][0].split()) for img in gts]
        df = defaultdict(float)
        for refs in crefs:
            for g in set(g for ref in refs for g in ref):
                df[g] += 1
        ref_len = np.log(float(len(crefs)))

        def counts2vec(cnts):
            vec = [defaultdict(float) for _ in range(N)]
            length = 0
            norm = [0.0 for _ in range(N)]
            for g, tf in cnts.items():
                d = np.log(max(1.0, df[g]))
                n = len(g) - 1
                vec[n][g] = float(tf) * (ref_len - d)
                norm[n] += pow(vec[n][g], 2)
                if n == 1:
                    length += tf
            return vec, [np.sqrt(x) for x in norm], length

        def sim(vh, vr, nh, nr, lh, lr):
            delta = float(lh - lr)
            val = np.array([0.0 for _ in range(N)])
            for n in range(N):
                for g in vh[n]:
                    val[n] += min(vh[n][g], vr[n][g]) * vr[n][g]
                if nh[n] != 0 and nr[n] != 0:
                    val[n] /= (nh[n] * nr[n])
                val[n] *= np.e ** (-(delta ** 2) / (2 * SIGMA ** 2))
            return val

        scores = []
        for test, refs in zip(ctest, crefs):
            vh, nh, lh = counts2vec(test)
            score = np.array([0.0 for _ in range(N)])
            for ref in refs:
                vr, nr, lr = counts2vec(ref)
                score += sim(vh, vr, nh, nr, lh, lr)
            avg = np.mean(score) / len(refs) * 10.0
            scores.append(avg)
        return np.mean(np.array(scores)), np.array(scores)


def load_local(refs_path, preds_path):
    """Reads the two files as the COCO API does and returns gts and res keyed by image id."""
    with open(refs_path) as f:
        dataset = json.load(f)
    img_to_anns = defaultdict(list)
    for ann in dataset['annotations']:
        img_to_anns[ann['image_id']].append(ann)
    with open(preds_path) as f:
        results = json.load(f)
    known = set(img_to_anns)
    res_ids = [r['image_id'] for r in results]
    if set(res_ids) - known:
        sys.exit('results do not correspond to the annotation file')
    res_anns = defaultdict(list)
    for i, r in enumerate(results):
        r['id'] = i + 1
        res_anns[r['image_id']].append(r)
    ids = sorted(res_anns)
    gts = {i: [a['caption'] for a in img_to_anns[i]] for i in ids}
    res = {i: [a['caption'] for a in res_anns[i]] for i in ids}
    return gts, res


def score_local(refs_path, preds_path):
    gts, res = load_local(refs_path, preds_path)
    out, img_evals = {}, {i: {'image_id': i} for i in gts}
    ids = list(gts)
    bleus, bleu_imgs = Bleu().compute_score(gts, res)
    for k in range(N):
        out['Bleu_%d' % (k + 1)] = bleus[k]
        for i, s in zip(ids, bleu_imgs[k]):
            img_evals[i]['Bleu_%d' % (k + 1)] = s
    for name, scorer in (('ROUGE_L', Rouge()), ('CIDEr', Cider())):
        corpus, per = scorer.compute_score(gts, res)
        out[name] = float(corpus)
        for i, s in zip(ids, per):
            img_evals[i][name] = float(s)
    return out, len(ids)


def score_pycocoevalcap(refs_path, preds_path):
    from pycocotools.coco import COCO
    from pycocoevalcap.bleu.bleu import Bleu as PBleu
    from pycocoevalcap.cider.cider import Cider as PCider
    from pycocoevalcap.rouge.rouge import Rouge as PRouge
    coco = COCO(refs_path)
    coco_res = coco.loadRes(preds_path)
    ids = coco_res.getImgIds()
    gts = {i: [a['caption'] for a in coco.imgToAnns[i]] for i in ids}
    res = {i: [a['caption'] for a in coco_res.imgToAnns[i]] for i in ids}
    out = {}
    bleus, _ = PBleu(4).compute_score(gts, res)
    for k in range(N):
        out['Bleu_%d' % (k + 1)] = bleus[k]
    out['ROUGE_L'] = float(PRouge().compute_score(gts, res)[0])
    out['CIDEr'] = float(PCider().compute_score(gts, res)[0])
    return out, len(ids)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--refs', required=True, help='COCO annotation file')
    parser.add_argument('--preds', required=True, help='COCO results file')
    parser.add_argument('--impl', choices=('auto', 'pycocoevalcap', 'local'), default='auto')
    args = parser.parse_args()
    impl = args.impl
    if impl == 'auto':
        try:
            import pycocoevalcap  # noqa: F401
            import pycocotools  # noqa: F401
            impl = 'pycocoevalcap'
        except ImportError:
            impl = 'local'
    start = time.time()
    if impl == 'pycocoevalcap':
        out, n = score_pycocoevalcap(args.refs, args.preds)
    else:
        out, n = score_local(args.refs, args.preds)
    print(json.dumps({'impl': impl, 'images': n, 'scores': out, 'seconds': time.time() - start}))


if __name__ == '__main__':
    main()
