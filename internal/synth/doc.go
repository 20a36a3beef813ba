// Package synth generates the synthetic grounded world: a small, fully annotated dataset written in
// the real formats (Karpathy split JSON, Flickr30k Entities Sentences/Annotations, bottom-up TSV
// region features, GVD class list and split ids) so later stages read it exactly as real data.
//
// # World
//
// An image shows 2–5 objects of 28 categories (people, animals, vehicles, clothing, instruments and
// other things), each with a colour and a size attribute, on one of six scenes. Categories have
// synonyms and plurals (dog/dogs/puppy/puppies, man/men/guy/guys, …); every singular noun form is a
// grounding class in class_names.txt, and a word is an object word when its singular form (its
// lemma, see [Lemma]) is a class. People may wear clothing (a shirt or jacket box inside their box,
// a hat on their head). Each image has 5 captions from a small grammar (articles, colour and size
// adjectives, verbs, prepositions, counts such as "two dogs", scene phrases, "There is …") and each
// caption mentions 1–3 objects or groups of objects.
//
// # Region features
//
// Each image has K proposals: a tight jittered box per object, looser jittered object boxes, part
// boxes inside objects and background boxes. A proposal's feature is a non-negative sparse D-dim
// vector: the sum over objects of IoU-weighted class, type, colour and size signatures, part
// signatures weighted by how much of the proposal lies inside an object without matching it, a
// scene signature for the uncovered part, sparse noise, per-value multiplicative noise and dropout.
// Signatures are sparse random vectors fixed by the seed and D (at least 8 non-zeros for a class,
// so they survive D as small as 128).
//
// # Invariants
//
//   - Same [Options] (Workers excepted) give byte-identical files: every image draws from its own
//     random stream seeded from (Seed, image index), and outputs are assembled in index order.
//   - dataset.json tokens equal the lower-cased words of the Entities caption minus punctuation
//     ("." at the end, and "," after a leading scene phrase: "In the park , a dog …"); a mention's
//     word index (truth.json) indexes those tokens.
//   - Every mention's boxes belong to its chain in Annotations/<id>.xml; XML coordinates are 1-based
//     (the usual parser subtracts 1), truth.json and TSV boxes are 0-based pixels.
package synth
