package blobio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"

	"gocloud.dev/gcerrors"
	"gocloud.dev/gcp"
)

// StoreError is a failure of the store itself rather than a statement about what it holds: the
// store refused the request or could not be reached (permissions, credentials, network), or a
// write failed. Nothing follows from it about the object: callers must not take it for a missing
// or damaged object, and must not delete anything because of it.
type StoreError struct {
	Op  string // "open", "read", "write", "list" or "delete"
	Loc string // the location as the caller gave it
	Err error  // the cause
}

// Error is one line: the operation, the location, the cause and, for a cloud store, what to set.
func (e *StoreError) Error() string {
	msg := fmt.Sprintf("blobio: cannot %s %s: %s", e.Op, e.Loc, shorten(cause(e.Err).Error()))
	if h := hint(e.Loc); h != "" {
		msg += "; " + h
	}
	return msg
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }

// IsStoreError reports whether err is, or wraps, a *StoreError.
func IsStoreError(err error) bool {
	var se *StoreError
	return errors.As(err, &se)
}

// wrap turns an error of the store about loc into ErrNotExist (wrapped) when the object does
// not exist, and into a *StoreError otherwise.
func wrap(op, loc string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s: %w", loc, ErrNotExist)
	}
	if IsStoreError(err) {
		return err
	}
	return &StoreError{Op: op, Loc: loc, Err: err}
}

// cause strips the wrappers that repeat what StoreError says already: gocloud's (the bucket and
// key), net/url's (the request URL of the store's API) and os's (the path).
func cause(err error) error {
	for {
		var ue *url.Error
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &ue):
			err = ue.Err
		case errors.As(err, &pe):
			err = pe.Err
		case errors.As(err, &le):
			err = le.Err
		default:
			// gocloud's error unwraps to the driver's error and then a code sentinel.
			if m, ok := err.(interface{ Unwrap() []error }); ok && strings.HasPrefix(err.Error(), "blob (") {
				if errs := m.Unwrap(); len(errs) > 0 && errs[0] != nil {
					err = errs[0]
					continue
				}
			}
			return err
		}
	}
}

// maxCause is the length beyond which a cause is cut (cloud SDKs append whole ASN.1 or HTTP
// dumps to the one clause that says what went wrong).
const maxCause = 160

// shorten cuts a long message after its last "; "-separated clause that ends before maxCause.
func shorten(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= maxCause {
		return s
	}
	if i := strings.LastIndex(s[:maxCause], "; "); i > 0 {
		return s[:i] + " …"
	}
	return s[:maxCause] + " …"
}

// Hints: what to set for each cloud store.
const (
	gcsHint = "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run 'gcloud auth application-default login', and check the network"
	s3Hint  = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and AWS_REGION, and check the network"
)

// hint says what to set when a store at loc fails; "" for local and in-memory stores.
func hint(loc string) string {
	switch {
	case strings.HasPrefix(loc, "gs://"):
		return gcsHint
	case strings.HasPrefix(loc, "s3://"):
		return s3Hint
	}
	return ""
}

// gcsCreds remembers that Google Cloud credentials were found and yield a token, so that the
// check runs once per process. A failure is not remembered: the next open checks again.
var gcsCreds struct {
	mu sync.Mutex
	ok bool
}

// checkGCSCredentials finds the Application Default Credentials and obtains a token with them,
// so that missing or broken credentials fail the first open with one clear error instead of a
// warning on standard output and an opaque failure of every request (gocloud's default gs://
// opener prints the warning and goes on with empty credentials). With STORAGE_EMULATOR_HOST set
// gocloud uses fake credentials, and nothing is checked.
func checkGCSCredentials(ctx context.Context) error {
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" || os.Getenv("STORAGE_EMULATOR_HOST_GRPC") != "" {
		return nil
	}
	gcsCreds.mu.Lock()
	defer gcsCreds.mu.Unlock()
	if gcsCreds.ok {
		return nil
	}
	creds, err := gcp.DefaultCredentials(ctx)
	if err != nil {
		return errors.New("no Google Cloud credentials found")
	}
	if _, err := creds.TokenSource.Token(); err != nil {
		from := "the Application Default Credentials"
		if f := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
			from = "GOOGLE_APPLICATION_CREDENTIALS=" + f
		}
		return fmt.Errorf("the Google Cloud credentials of %s give no access token: %w", from, cause(err))
	}
	gcsCreds.ok = true
	return nil
}
