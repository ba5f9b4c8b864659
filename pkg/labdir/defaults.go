package labdir

// Defaults of the settings: what 'sselab up' uses for a flag that was
// never given on a directory. The help texts read them from here.
const (
	DefaultAddress        = "127.0.0.1:9000"
	DefaultConsoleAddress = "127.0.0.1:9001"
	DefaultKESAddress     = "127.0.0.1:7373"
	DefaultWebAddress     = "127.0.0.1:9443"
	DefaultKey            = "sselab-key"
	DefaultBucket         = "encrypted"
)
