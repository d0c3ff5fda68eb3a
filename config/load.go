package config

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"slices"
)

// Config is rafka's whole configuration as Load resolved it.
type Config struct {
	// Settings are the server's settings: defaults < the file's rafka
	// section < environment < flags.
	Settings Settings
	// File holds the file's librdkafka sections (empty without a file).
	File *File
	// Path is the configuration file read, "" for none.
	Path string
	// ReadyFile is where to write the bound addresses once serving, "" for
	// nowhere.
	ReadyFile string
	// ShowVersion asks for the version instead of a server.
	ShowVersion bool
}

// configEnv names the configuration file when --config is not given.
const configEnv = "RAFKA_CONFIG"

// Load parses the command line once and layers the settings: the defaults,
// the file's rafka section decoded over them (a zero the file gives is
// kept), the environment variables the settings declare, and the flags
// actually given (a zero they give is kept too). getenv reads the
// environment (os.Getenv); help and flag errors go to usage. The result is
// validated. A --help gives flag.ErrHelp.
func Load(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	cfg := &Config{}
	flagged := DefaultSettings() // what the flags give, for those given
	fs := flag.NewFlagSet("rafka", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&cfg.Path, "config", "", "configuration file (kafka.json); default $"+configEnv)
	fs.StringVar(&cfg.Path, "c", "", "shorthand for --config")
	fs.StringVar(&cfg.ReadyFile, "ready-file", "", "once every listener is up, write their bound addresses (JSON) to this file; with --port 0 and :0 addresses, how a harness learns the ports")
	fs.BoolVar(&cfg.ShowVersion, "version", false, "print the version and exit")
	fs.BoolVar(&cfg.ShowVersion, "v", false, "shorthand for --version")
	bindFlags(fs, &flagged)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.ShowVersion {
		return cfg, nil
	}

	if cfg.Path == "" {
		cfg.Path = getenv(configEnv)
	}
	cfg.File = &File{General: Properties{}, Consumer: Properties{}, Producer: Properties{}, Rafka: DefaultSettings()}
	if cfg.Path != "" {
		var err error
		if cfg.File, err = LoadFile(cfg.Path); err != nil {
			return nil, err
		}
	}
	cfg.Settings = cfg.File.Rafka

	given := map[int]bool{}
	fs.Visit(func(f *flag.Flag) {
		for _, d := range declared() {
			if slices.Contains(d.flags, f.Name) {
				given[d.field] = true
			}
		}
	})
	s := reflect.ValueOf(&cfg.Settings).Elem()
	from := reflect.ValueOf(&flagged).Elem()
	for _, d := range declared() {
		switch {
		case given[d.field]:
			s.Field(d.field).Set(from.Field(d.field))
		case d.env != "" && getenv(d.env) != "":
			field := s.Field(d.field)
			if field.Kind() == reflect.Slice || field.Kind() == reflect.Map {
				field.SetZero() // the environment replaces the file's list
			}
			if err := setField(field, getenv(d.env)); err != nil {
				return nil, fmt.Errorf("$%s: %w", d.env, err)
			}
		}
	}
	if err := cfg.Settings.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}
