package labdir

import "fmt"

// InvalidError is a value given on the command line that sselab cannot
// take, such as a bad key name, an address without a port or an unknown
// --kms: the mistake is the user's to fix by typing something else, and
// the command line shows it as a usage error.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Invalid returns an *InvalidError with the formatted message.
func Invalid(format string, args ...any) error {
	return &InvalidError{fmt.Errorf(format, args...)}
}
