package keystore

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/sselab/sselab/pkg/labdir"
)

// kinds makes one of each kind of keystore, the default first. A new
// kind is one more line here.
var kinds = []func() Kind{
	func() Kind { return &fsKind{} },
	func() Kind { return &vaultKind{} },
	func() Kind { return &kesConfigKind{} },
	func() Kind { return &sealedKind{} },
}

// Default is the kind of keystore a new lab uses: the file keystore in its
// state directory.
const Default = KindFS

// KindOf names the kind of keystore the settings ks describe.
func KindOf(ks labdir.Keystore) string {
	switch {
	case ks.KMS != "":
		return ks.KMS
	case ks.KESConfig != "":
		return KindKESConfig
	}
	return Default
}

// Flags are the keystore flags of 'sselab up': --kms, and every kind with
// its own flags.
type Flags struct {
	kms   string
	kinds []Kind
	sets  []*pflag.FlagSet // the flags of kinds[i]
}

// NewFlags returns the keystore flags, with nothing given yet.
func NewFlags() *Flags {
	f := &Flags{}
	for _, newKind := range kinds {
		k := newKind()
		fs := pflag.NewFlagSet(k.Name(), pflag.ContinueOnError)
		fs.SortFlags = false
		k.AddFlags(fs)
		f.kinds, f.sets = append(f.kinds, k), append(f.sets, fs)
	}
	return f
}

// ParseFlags returns the keystore flags with args given, as they would be
// on the command line of 'sselab up'.
func ParseFlags(args ...string) (*Flags, error) {
	f := NewFlags()
	fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
	f.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return f, nil
}

// AddFlags adds --kms and the flags of every kind to fs.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.kms, "kms", "", "the `KIND` of keystore KES keeps the keys in: "+f.describeNames()+"; as last time, else "+Default)
	for _, s := range f.sets {
		fs.AddFlagSet(s)
	}
}

// Section is the help of one kind's flags.
type Section struct {
	Heading string
	Flags   *pflag.FlagSet
}

// Sections are the help of the kinds' own flags, one per kind that has
// flags.
func (f *Flags) Sections() []Section {
	var s []Section
	for i, k := range f.kinds {
		if f.sets[i].HasFlags() {
			s = append(s, Section{Heading: k.Usage(), Flags: f.sets[i]})
		}
	}
	return s
}

// names are the kinds' names, the default first.
func (f *Flags) names() []string {
	var names []string
	for _, k := range f.kinds {
		names = append(names, k.Name())
	}
	return names
}

// kind returns the kind named name, or nil.
func (f *Flags) kind(name string) Kind {
	for _, k := range f.kinds {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

// given returns the flags of kinds[i] that were given.
func (f *Flags) given(i int) []string {
	var given []string
	f.sets[i].VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			given = append(given, "--"+fl.Name)
		}
	})
	return given
}

// Choose applies the flags to ks, the keystore settings remembered for a
// directory (zero for a new one), and returns the kind of keystore they
// name. Without flags, it is the kind remembered. A nil Flags means no
// flags.
func (f *Flags) Choose(ks *labdir.Keystore) (Kind, error) {
	if f == nil {
		f = NewFlags()
	}
	name, by := f.kms, "--kms"
	for _, k := range f.kinds {
		c, ok := k.(chooser)
		if !ok {
			continue
		}
		chosen, flag := c.Chooses()
		switch {
		case chosen == "":
		case name != "" && name != chosen:
			return nil, labdir.Invalid("keystore: %s and %s both choose KES's keystore; pass one of them", by, flag)
		default:
			name, by = chosen, flag
		}
	}
	if name != "" && f.kind(name) == nil {
		return nil, labdir.Invalid("keystore: --kms %q: use %s", name, f.describeNames())
	}
	if name == "" {
		name = KindOf(*ks)
	}
	for i, k := range f.kinds {
		if given := f.given(i); k.Name() != name && len(given) > 0 && !slices.Contains(given, by) {
			return nil, labdir.Invalid("keystore: %s given, but the %s flags need --kms %s", strings.Join(given, ", "), k.Name(), k.Name())
		}
	}
	kind := f.kind(name)
	if kind == nil {
		return nil, fmt.Errorf("keystore: the settings name a keystore of kind %q, which this sselab does not know; use a newer sselab or a new --dir", name)
	}
	if KindOf(*ks) != name {
		*ks = labdir.Keystore{}
	}
	if err := kind.Merge(ks); err != nil {
		return nil, err
	}
	return kind, nil
}

// describeNames lists the kinds for an error: "fs (the keystore in DIR),
// vault or kes-config".
func (f *Flags) describeNames() string {
	names := f.names()
	names[0] += " (the keystore in DIR)"
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Forget removes from the state directory what kinds other than the one
// in use keep there, such as a Vault secret once the lab went back to the
// keystore in DIR.
func Forget(l labdir.Layout, inUse Kind) error {
	for _, newKind := range kinds {
		k := newKind()
		if f, ok := k.(forgetter); ok && k.Name() != inUse.Name() {
			if err := f.Forget(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// Where says where the keys of the keystore settings ks are, whatever
// their kind.
func Where(l labdir.Layout, ks labdir.Keystore) string {
	name := KindOf(ks)
	for _, newKind := range kinds {
		if k := newKind(); k.Name() == name {
			return k.Where(l, ks)
		}
	}
	return fmt.Sprintf("a keystore of kind %q", name)
}
