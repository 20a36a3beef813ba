package caption

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// jsonFile decodes one JSON file as a stream of tokens (encoding/json/v2's jsontext, here from its
// module mirror): nothing but the current token is held, and errors name the file, line and column.
type jsonFile struct {
	path string
	f    *os.File
	dec  *jsontext.Decoder
}

// openJSON opens path for streaming decoding.
func openJSON(path string) (*jsonFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("caption: %w", err)
	}
	// Duplicate names are allowed as encoding/json allows them (the last one wins there; here each
	// is read in turn); checking them costs a set per object.
	dec := jsontext.NewDecoder(f, jsontext.AllowDuplicateNames(true))
	return &jsonFile{path: path, f: f, dec: dec}, nil
}

func (j *jsonFile) Close() error { return j.f.Close() }

// errAt returns an error naming the file and the line and column of byte offset off.
func (j *jsonFile) errAt(off int64, format string, args ...any) error {
	return fmt.Errorf("caption: %s:%s: %s", j.path, j.position(off), fmt.Sprintf(format, args...))
}

// errHere is errAt at the decoder's position.
func (j *jsonFile) errHere(format string, args ...any) error {
	return j.errAt(j.dec.InputOffset(), format, args...)
}

// syntax turns a decoder error into one naming the file, line and column.
func (j *jsonFile) syntax(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return j.errHere("unexpected end of file")
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return j.errAt(se.ByteOffset, "%v", se.Err)
	}
	return fmt.Errorf("caption: %s: %w", j.path, err)
}

// position returns "line:column" (1-based, column in bytes) of byte offset off, counted by
// reading the file again: only errors need it.
func (j *jsonFile) position(off int64) string {
	f, err := os.Open(j.path)
	if err != nil {
		return "offset " + strconv.FormatInt(off, 10)
	}
	defer f.Close()
	r := bufio.NewReader(io.LimitReader(f, off))
	line, col := 1, 1
	for {
		b, err := r.ReadByte()
		if err != nil {
			break
		}
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%d:%d", line, col)
}

// begin reads the opening delimiter of an object ('{') or array ('['); what names the value for the
// error.
func (j *jsonFile) begin(kind jsontext.Kind, what loc) error {
	if k := j.dec.PeekKind(); k != kind {
		if k == 0 {
			_, err := j.dec.ReadToken()
			return j.syntax(err)
		}
		want := "an object"
		if kind == '[' {
			want = "an array"
		}
		return j.errHere("%s: want %s, found %s", what, want, kindName(k))
	}
	if _, err := j.dec.ReadToken(); err != nil {
		return j.syntax(err)
	}
	return nil
}

// more reports whether the current object or array has another member, reading its closing
// delimiter when not.
func (j *jsonFile) more() (bool, error) {
	switch j.dec.PeekKind() {
	case '}', ']':
		if _, err := j.dec.ReadToken(); err != nil {
			return false, j.syntax(err)
		}
		return false, nil
	case 0:
		_, err := j.dec.ReadToken()
		return false, j.syntax(err)
	}
	return true, nil
}

// member reads the next member name of the object being read, or its closing '}': ok reports
// a member, whose value the caller then reads or skips.
func (j *jsonFile) member() (name string, ok bool, err error) {
	more, err := j.more()
	if err != nil || !more {
		return "", false, err
	}
	name, err = j.name()
	return name, err == nil, err
}

// name reads an object member's name.
func (j *jsonFile) name() (string, error) {
	tok, err := j.dec.ReadToken()
	if err != nil {
		return "", j.syntax(err)
	}
	return tok.String(), nil
}

// skip skips the next value.
func (j *jsonFile) skip() error {
	if err := j.dec.SkipValue(); err != nil {
		return j.syntax(err)
	}
	return nil
}

// str reads a string value; what names it for the error.
func (j *jsonFile) str(what loc) (string, error) {
	if k := j.dec.PeekKind(); k != '"' {
		if k == 0 {
			_, err := j.dec.ReadToken()
			return "", j.syntax(err)
		}
		return "", j.errHere("%s: want a string, found %s", what, kindName(k))
	}
	tok, err := j.dec.ReadToken()
	if err != nil {
		return "", j.syntax(err)
	}
	return tok.String(), nil
}

// id reads an integer image id, given as a JSON number or a string holding one.
func (j *jsonFile) id(what loc) (int64, error) {
	off := j.dec.InputOffset()
	k := j.dec.PeekKind()
	if k != '0' && k != '"' {
		if k == 0 {
			_, err := j.dec.ReadToken()
			return 0, j.syntax(err)
		}
		return 0, j.errHere("%s: want an integer, found %s", what, kindName(k))
	}
	tok, err := j.dec.ReadToken()
	if err != nil {
		return 0, j.syntax(err)
	}
	s := tok.String()
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, j.errAt(off, "%s %q is not an integer", what, s)
	}
	return id, nil
}

// end checks that nothing but white space follows the top-level value.
func (j *jsonFile) end() error {
	if k := j.dec.PeekKind(); k != 0 {
		return j.errHere("unexpected %s after the top-level value", kindName(k))
	}
	if _, err := j.dec.ReadToken(); err != io.EOF {
		return j.syntax(err)
	}
	return nil
}

// loc names a value for error messages, formatted only when an error needs it:
// list[i]: field[j]: sub, each part present when set (i, j ≥ 0; strings non-empty).
type loc struct {
	list  string
	i     int
	field string
	j     int
	sub   string
}

// top names a top-level value or member.
func top(name string) loc { return loc{list: name, i: -1, j: -1} }

// item names element i of list.
func item(list string, i int) loc { return loc{list: list, i: i, j: -1} }

func (l loc) String() string {
	s := l.list
	if l.i >= 0 {
		s += "[" + strconv.Itoa(l.i) + "]"
	}
	if l.field != "" {
		s += ": " + l.field
	}
	if l.j >= 0 {
		s += "[" + strconv.Itoa(l.j) + "]"
	}
	if l.sub != "" {
		s += ": " + l.sub
	}
	return s
}

// at returns l naming its member name: the field, or the sub-field of element j.
func (l loc) at(name string) loc {
	if l.j >= 0 {
		l.sub = name
	} else {
		l.field = name
	}
	return l
}

// elem returns l naming element j of its field.
func (l loc) elem(j int) loc { l.j = j; return l }

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "invalid JSON"
}
