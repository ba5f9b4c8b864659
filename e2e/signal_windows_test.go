package e2e

import "os"

// syscallTerm stands in for SIGTERM, which Windows lacks; the tests that
// send it run on Linux only.
var syscallTerm = os.Kill
