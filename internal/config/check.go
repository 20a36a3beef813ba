package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Validator is a value that reports its own bad fields, such as a struct of parameters that
// other parameter structs embed, or an enumeration bound to one key.
type Validator interface {
	Validate() error
}

// Check returns the first bad field of v (a struct, or a pointer to one) in field order, as a
// *FieldError naming its key, or nil. A field is bad when it breaks the bounds of its check tag
// or when its type is a Validator whose Validate fails.
//
// A check tag states what a field allows, and its text is the error's want text, so that the
// bound is written once beside the key:
//
//	BeamSize int     `yaml:"beam_size" check:"≥ 1"`
//	Pictures int     `yaml:"pictures" check:"≥ 0; 0: none"`
//	Dropout  float64 `yaml:"dropout" check:"in [0, 1); 0: no dropout"`
//	Splits []string  `yaml:"splits" check:"at least one split"`
//
// On a number (any int, uint or float type, or a pointer to one; a nil pointer passes) the tag
// starts with a bound: "≥ x", "> x", "≤ x", "< x", "in [a, b]" (with "(" or ")" for an open end)
// or "a..b" (both ends included); what follows it (after a space or ";") is commentary. A float
// must also be finite. On a string, slice or map the tag says what the field must hold, and an
// empty one is bad. A tag that is none of these panics when Check first sees the type: a
// malformed bound is a programming error.
//
// Fields are named by their yaml key; one with yaml:"-" by its json key (a trainer
// configuration stored in checkpoints), else by its lower-cased name. Embedded structs and
// yaml ",inline" ones share the keys of v; a named struct field (or a slice of structs) prefixes
// its keys ("intervals.level", "rows[2].label"). A struct field whose type is a Validator is
// checked by its Validate instead of its tags (its keys prefixed likewise); an enumeration field
// whose type is a Validator has its error renamed to the field's key. Note that a struct
// embedding a Validator gets its Validate method promoted unless it declares its own.
func Check(v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: Check of %T, want a struct", v))
	}
	return checkStruct(rv, "")
}

// Prefix returns err prefixed with "prefix: " (the package or stage it comes from), nil for nil.
func Prefix(prefix string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// fieldPlan is what Check does with one field of a struct type.
type fieldPlan struct {
	index int
	// key is the field's key; "" for an inline struct.
	key string
	// rule is the field's check tag; nil without one.
	rule *rule
	// validator: the field's type is a Validator.
	validator bool
	// nested: a struct, pointer to a struct, or slice or array of structs whose fields Check
	// walks (when they are no Validators).
	nested bool
}

var plans sync.Map // reflect.Type → []fieldPlan

var validatorType = reflect.TypeFor[Validator]()

// planOf returns the cached plan of struct type t, building it (and panicking on a malformed
// tag) on first use.
func planOf(t reflect.Type) []fieldPlan {
	return buildPlan(t, map[reflect.Type]bool{})
}

// buildPlan builds the plans of t and of the struct types its fields hold (visiting: the types
// being built, for recursive types), so that a malformed tag panics on the first check of the
// outermost type whatever the values hold.
func buildPlan(t reflect.Type, visiting map[reflect.Type]bool) []fieldPlan {
	if p, ok := plans.Load(t); ok {
		return p.([]fieldPlan)
	}
	visiting[t] = true
	var out []fieldPlan
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			if _, ok := f.Tag.Lookup("check"); ok {
				panic(fmt.Sprintf("config: check tag on unexported field %s.%s", t, f.Name))
			}
			continue
		}
		fp := fieldPlan{index: i, key: checkKey(f), validator: f.Type.Implements(validatorType)}
		if fp.key == "" && structType(f.Type) == nil {
			panic(fmt.Sprintf("config: %s.%s is inline but not a struct", t, f.Name))
		}
		if tag, ok := f.Tag.Lookup("check"); ok {
			r, err := parseRule(tag, f.Type)
			if err != nil {
				panic(fmt.Sprintf("config: check tag of %s.%s: %v", t, f.Name, err))
			}
			fp.rule = r
		}
		fp.nested = !fp.validator && structType(f.Type) != nil
		if st := structType(f.Type); st != nil && !visiting[st] {
			buildPlan(st, visiting)
		}
		if fp.rule != nil || fp.validator || fp.nested {
			out = append(out, fp)
		}
	}
	p, _ := plans.LoadOrStore(t, out)
	return p.([]fieldPlan)
}

// structType returns the struct type t holds, through a pointer, slice or array; nil if none.
func structType(t reflect.Type) reflect.Type {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return t
	}
	return nil
}

// checkKey returns a field's key: "" for an embedded struct or a yaml ",inline" one.
func checkKey(f reflect.StructField) string {
	name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if strings.Contains(opts, "inline") || f.Anonymous && name == "" && structType(f.Type) != nil && f.Type.Kind() != reflect.Slice {
		return ""
	}
	if name != "" && name != "-" {
		return name
	}
	if j, _, _ := strings.Cut(f.Tag.Get("json"), ","); j != "" && j != "-" {
		return j
	}
	return strings.ToLower(f.Name)
}

func checkStruct(v reflect.Value, prefix string) error {
	for _, fp := range planOf(v.Type()) {
		fv := v.Field(fp.index)
		key := fp.key
		if prefix != "" && key != "" {
			key = prefix + "." + key
		} else if key == "" {
			key = prefix
		}
		if fp.rule != nil {
			if err := fp.rule.check(fv, key); err != nil {
				return err
			}
		}
		if fp.validator {
			if err := validate(fv, key, fp.key == "" || structType(fv.Type()) != nil); err != nil {
				return err
			}
		}
		if fp.nested {
			if err := checkNested(fv, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// validate runs a Validator field's Validate: the keys of a struct's errors are prefixed with
// key (the keys of v's own fields for an inline one: key ""), an enumeration's error takes key
// as its own.
func validate(v reflect.Value, key string, isStruct bool) error {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	err := v.Interface().(Validator).Validate()
	switch {
	case err == nil || isStruct && key == "":
		return err
	case isStruct:
		return Within(key, err)
	}
	return rekey(key, err)
}

// rekey gives a *FieldError in err the key key; other errors come back unchanged.
func rekey(key string, err error) error {
	fe, ok := err.(*FieldError)
	if !ok {
		return err
	}
	out := *fe
	out.Key = key
	return &out
}

// checkNested walks a struct field (through a pointer) or each struct of a slice or array.
func checkNested(v reflect.Value, key string) error {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return checkNested(v.Elem(), key)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			e := v.Index(i)
			k := fmt.Sprintf("%s[%d]", key, i)
			var err error
			if e.Type().Implements(validatorType) {
				err = validate(e, k, true)
			} else {
				err = checkNested(e, k)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return checkStruct(v, key)
}

// rule is a parsed check tag.
type rule struct {
	// want is the tag's text.
	want string
	// nonEmpty: a string, slice or map that must not be empty.
	nonEmpty bool
	// lo and hi bound a number; a nil end is unbounded.
	lo, hi *end
}

// end is one end of a number's range.
type end struct {
	// f is the bound; i the same bound for integer fields.
	f    float64
	i    int64
	open bool
}

// parseRule parses a check tag for a field of type t.
func parseRule(tag string, t reflect.Type) (*rule, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	r := &rule{want: tag}
	lo, hi, isBound, err := parseBounds(tag)
	switch t.Kind() {
	case reflect.String, reflect.Slice, reflect.Map:
		if isBound {
			return nil, fmt.Errorf("%q: a bound on a %s (the tag of a string, slice or map says what it must hold)", tag, t.Kind())
		}
		if strings.TrimSpace(tag) == "" {
			return nil, fmt.Errorf("empty tag")
		}
		r.nonEmpty = true
		return r, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		for _, e := range []*end{lo, hi} {
			if e != nil && (e.f != math.Trunc(e.f) || math.Abs(e.f) > 1<<53) {
				return nil, fmt.Errorf("%q: bound %v of an integer field is not a whole number", tag, e.f)
			}
			if e != nil {
				e.i = int64(e.f)
			}
		}
	case reflect.Float32, reflect.Float64:
	default:
		return nil, fmt.Errorf("%q: cannot check a %s", tag, t.Kind())
	}
	if err != nil {
		return nil, err
	}
	if !isBound {
		return nil, fmt.Errorf("%q: want a bound (≥ x, > x, ≤ x, < x, in [a, b], a..b) at its start", tag)
	}
	r.lo, r.hi = lo, hi
	return r, nil
}

// parseBounds parses the bound at the start of a tag. isBound reports whether the tag starts
// like one; err whether it is malformed then.
func parseBounds(tag string) (lo, hi *end, isBound bool, err error) {
	for _, c := range []struct {
		op          string
		lower, open bool
	}{{"≥", true, false}, {">", true, true}, {"≤", false, false}, {"<", false, true}} {
		rest, ok := strings.CutPrefix(tag, c.op+" ")
		if !ok {
			continue
		}
		num, tail := cutNumber(rest)
		e, err := parseEnd(num, c.open, tag)
		if err == nil {
			err = checkTail(tail, tag)
		}
		if c.lower {
			return e, nil, true, err
		}
		return nil, e, true, err
	}
	if rest, ok := strings.CutPrefix(tag, "in "); ok {
		if rest == "" || rest[0] != '[' && rest[0] != '(' {
			return nil, nil, true, fmt.Errorf("%q: want in [a, b], with ( or ) for an open end", tag)
		}
		a, rest, ok1 := strings.Cut(rest[1:], ", ")
		i := strings.IndexAny(rest, "])")
		if !ok1 || i < 0 {
			return nil, nil, true, fmt.Errorf("%q: want in [a, b], with ( or ) for an open end", tag)
		}
		b, tail := rest[:i], rest[i+1:]
		if lo, err = parseEnd(a, tag[3] == '(', tag); err != nil {
			return nil, nil, true, err
		}
		if hi, err = parseEnd(b, rest[i] == ')', tag); err != nil {
			return nil, nil, true, err
		}
		return lo, hi, true, checkRange(lo, hi, tail, tag)
	}
	if a, rest, ok := strings.Cut(tag, ".."); ok && a != "" && strings.IndexFunc(a, func(r rune) bool { return !strings.ContainsRune("+-0123456789.eE", r) }) < 0 {
		b, tail := cutNumber(rest)
		if lo, err = parseEnd(a, false, tag); err != nil {
			return nil, nil, true, err
		}
		if hi, err = parseEnd(b, false, tag); err != nil {
			return nil, nil, true, err
		}
		return lo, hi, true, checkRange(lo, hi, tail, tag)
	}
	return nil, nil, false, nil
}

// cutNumber splits s at the first space or ";".
func cutNumber(s string) (num, tail string) {
	if i := strings.IndexAny(s, " ;"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

func parseEnd(s string, open bool, tag string) (*end, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%q: bound %q is not a finite number", tag, s)
	}
	return &end{f: f, open: open}, nil
}

// checkTail accepts what follows a bound: nothing, or commentary after a space or ";".
func checkTail(tail, tag string) error {
	if tail != "" && tail[0] != ' ' && tail[0] != ';' {
		return fmt.Errorf("%q: %q after the bound (commentary follows a space or ;)", tag, tail)
	}
	return nil
}

func checkRange(lo, hi *end, tail, tag string) error {
	if lo.f > hi.f {
		return fmt.Errorf("%q: empty range", tag)
	}
	return checkTail(tail, tag)
}

// check returns a *FieldError for key when v breaks the rule.
func (r *rule) check(v reflect.Value, key string) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if r.nonEmpty {
		switch {
		case v.Len() > 0:
			return nil
		case v.Kind() == reflect.String:
			return Invalid(key, v.Interface(), r.want)
		}
		return Invalid(key, "[]", r.want)
	}
	if !r.holds(v) {
		return Invalid(key, v.Interface(), r.want)
	}
	return nil
}

// holds reports whether the number v lies within the rule's ends.
func (r *rule) holds(v reflect.Value) bool {
	var c func(e *end) int // the sign of v − e
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		x := v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
		c = func(e *end) int { return cmpOrdered(x, e.f) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x := v.Uint()
		c = func(e *end) int {
			if x > math.MaxInt64 {
				return 1
			}
			return cmpOrdered(int64(x), e.i)
		}
	default:
		x := v.Int()
		c = func(e *end) int { return cmpOrdered(x, e.i) }
	}
	if r.lo != nil {
		if s := c(r.lo); s < 0 || s == 0 && r.lo.open {
			return false
		}
	}
	if r.hi != nil {
		if s := c(r.hi); s > 0 || s == 0 && r.hi.open {
			return false
		}
	}
	return true
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
