#!/usr/bin/env python3
"""NumPy baseline for the features benchmark: what self-critical.pytorch's
scripts/make_bu_data.py does, on every *.tsv file of a directory.

For each bottom-up TSV row (image_id, image_w, image_h, num_boxes, boxes, features) it writes
<output_dir>_att/<id>.npz (savez_compressed, key "feat"), <output_dir>_fc/<id>.npy (mean over
boxes) and <output_dir>_box/<id>.npy, exactly like the original (which hard-codes its input
file names and uses the Python 2 era base64.decodestring; here base64.b64decode, the same
decoding). Used by BenchmarkMaterialise in pipelines/features (make bench); prints one JSON
line with rows, bytes and seconds.
"""
import argparse
import base64
import csv
import glob
import json
import os
import sys
import time

import numpy as np

csv.field_size_limit(sys.maxsize)

FIELDNAMES = ['image_id', 'image_w', 'image_h', 'num_boxes', 'boxes', 'features']


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--downloaded_feats', required=True, help='directory of bottom-up *.tsv files')
    parser.add_argument('--output_dir', required=True, help='output prefix: <prefix>_att, _fc, _box')
    args = parser.parse_args()

    for suffix in ('_att', '_fc', '_box'):
        os.makedirs(args.output_dir + suffix, exist_ok=True)
    infiles = sorted(glob.glob(os.path.join(args.downloaded_feats, '*.tsv')))
    start = time.time()
    rows = 0
    nbytes = 0
    for infile in infiles:
        nbytes += os.path.getsize(infile)
        with open(infile, 'r') as tsv_in_file:
            reader = csv.DictReader(tsv_in_file, delimiter='\t', fieldnames=FIELDNAMES)
            for item in reader:
                item['image_id'] = int(item['image_id'])
                item['num_boxes'] = int(item['num_boxes'])
                for field in ['boxes', 'features']:
                    item[field] = np.frombuffer(base64.b64decode(item[field].encode('ascii')),
                                                dtype=np.float32).reshape((item['num_boxes'], -1))
                np.savez_compressed(os.path.join(args.output_dir + '_att', str(item['image_id'])), feat=item['features'])
                np.save(os.path.join(args.output_dir + '_fc', str(item['image_id'])), item['features'].mean(0))
                np.save(os.path.join(args.output_dir + '_box', str(item['image_id'])), item['boxes'])
                rows += 1
    print(json.dumps({'rows': rows, 'bytes': nbytes, 'seconds': time.time() - start}))


if __name__ == '__main__':
    main()
