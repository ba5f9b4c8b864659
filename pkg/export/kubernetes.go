package export

import "errors"

// kubernetes writes the MinIO Operator Tenant.
func (w *writer) kubernetes() error {
	return errors.New("export: --format kubernetes is not implemented yet")
}
