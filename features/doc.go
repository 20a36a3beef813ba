// Package features reads bottom-up-attention region features (the TSV files of Anderson et al. in
// their original and LXMERT column layouts, and self-critical.pytorch's per-image npz/npy files)
// and writes and reads groundcap's Parquet feature store.
//
// # Source formats
//
//   - Anderson (original) TSV, 6 fields: image_id, image_w, image_h, num_boxes, boxes, features.
//   - LXMERT TSV, 10 fields: img_id, img_h, img_w, objects_id, objects_conf, attrs_id,
//     attrs_conf, num_boxes, boxes, features (note the h/w order; ids are int64, confidences
//     float32). Image ids such as "COCO_train2014_000000132417" are read as the trailing integer.
//   - self-critical: <root>/<name>_att/<id>.npz (key "feat", fallback "z", K×D float32),
//     <root>/<name>_fc/<id>.npy (D, optional: computed when absent), <root>/<name>_box/<id>.npy
//     (K×4). These files carry no image size: image_w and image_h are 0 and boxes are only
//     checked for x1 ≤ x2, y1 ≤ y2.
//
// Array fields are base64 of little-endian float32 (boxes K×4 x1 y1 x2 y2 in pixels, features
// K×D). A TSV line's layout is recognised by its field count (ParseTSV with LayoutAuto) or
// forced. Raw keeps decoded arrays as little-endian bytes, so that the fastest path (the blob
// encoding) never converts them.
//
// # Store layout
//
// A store is a directory with
//
//	features/part-00000-of-00004.parquet …  one row per image, sorted by image_id
//	rejects/part-00000-of-00004.parquet  …  rows rejected by the stage that wrote the store
//	index.parquet                          image_id → shard, row (sorted by image_id)
//
// Images are sharded with shard.Of(image_id, n), as every other groundcap table. Columns:
// image_id int64, image_w, image_h, num_boxes int32, boxes (K×4 float32), features (K×D),
// fc (D float32: the mean over boxes), and the optional object_ids, object_conf, attr_ids,
// attr_conf (K each; null when the source has none).
//
// Two encodings of the array columns:
//
//   - blob: BYTE_ARRAY holding raw little-endian values; dtype and shape of each column are in
//     the file's key-value metadata (MetaKey, a JSON Meta). The fastest to write and read.
//   - list: Parquet LIST of FLOAT (or INT64 for ids), flattened row-major; any Parquet tool reads
//     them as numbers.
//
// # float16
//
// With DTypeFloat16 the features column is stored as IEEE 754 binary16 (blob encoding only:
// parquet-go has no FLOAT16 logical type), rounded to nearest, ties to even. For a float32 x
// whose magnitude is at most MaxFloat16 the stored value y satisfies
//
//	|y − x| ≤ max(2⁻¹¹·|x|, 2⁻²⁵)
//
// (half a unit in the last place: relative 2⁻¹¹ for normal halves, absolute 2⁻²⁵ in the
// subnormal range below 2⁻¹⁴). Larger values are rejected (ErrFloat16Range). boxes and fc stay
// float32 (fc is computed from the float32 features).
package features
