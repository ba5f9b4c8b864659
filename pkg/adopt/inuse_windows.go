package adopt

// driveUser cannot tell on Windows whether a MinIO serves drive: another
// process's command line is not readable without WMI, and MinIO keeps no
// lock on its drive.
func driveUser(drive string) (pid int, cmdline string, err error) {
	return 0, "", errCannotTell
}
