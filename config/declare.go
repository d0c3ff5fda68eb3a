package config

import (
	"flag"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// declaration is one field of Settings as its tags declare it.
type declaration struct {
	field int      // index of the field in Settings
	key   string   // the key in the file's rafka section
	flags []string // flag names, the long one first
	env   string   // environment variable, or ""
	def   string   // default in the flag's syntax; "" is the zero value
	usage string
}

// declared lists the settings in the order Settings declares them; the
// tags are read once.
var declared = sync.OnceValue(func() []declaration {
	t := reflect.TypeFor[Settings]()
	out := make([]declaration, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		d := declaration{field: i, key: key, flags: strings.Split(f.Tag.Get("flag"), ","),
			env: f.Tag.Get("env"), def: f.Tag.Get("default"), usage: f.Tag.Get("usage")}
		if key == "" || d.flags[0] == "" || d.usage == "" {
			panic("config: Settings." + f.Name + " lacks a json, flag or usage tag")
		}
		if !flagSyntax(f.Type) {
			panic("config: Settings." + f.Name + " has a type without a flag syntax: " + f.Type.String())
		}
		out = append(out, d)
	}
	return out
})

var durationType = reflect.TypeFor[Duration]()

// flagSyntax reports whether setField and formatField handle t.
func flagSyntax(t reflect.Type) bool {
	switch {
	case t == durationType:
		return true
	case t.Kind() == reflect.Slice:
		return t.Elem().Kind() == reflect.String
	case t.Kind() == reflect.Map:
		return t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String
	}
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	}
	return false
}

// setField parses s into the settings field v, as a flag or environment
// variable gives it. A list gets s appended; a map (user:password) gets
// the pair added.
func setField(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 0, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("expected an integer, got %q", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("expected a number, got %q", s)
		}
		v.SetFloat(n)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.ValueOf(s)))
	case reflect.Map:
		k, val, ok := strings.Cut(s, ":")
		if !ok || k == "" {
			return fmt.Errorf("expected user:password")
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		v.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(val))
	default:
		panic("config: no flag syntax for " + v.Type().String())
	}
	return nil
}

// formatField writes the settings field v as a flag's default is shown.
func formatField(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Slice:
		return strings.Join(v.Interface().([]string), ",")
	case reflect.Map:
		return strings.Join(slices.Sorted(maps.Keys(v.Interface().(map[string]string))), ",")
	}
	return fmt.Sprint(v.Interface())
}

// fieldFlag is a settings field as a flag.Value.
type fieldFlag struct{ v reflect.Value }

func (f fieldFlag) String() string     { return formatField(f.v) }
func (f fieldFlag) Set(s string) error { return setField(f.v, s) }

// bindFlags defines every setting's flags on fs, writing into s; the
// field's value is the flag's default. Plain types use the flag package's
// own (its help then names the type); lists and maps are fieldFlags.
func bindFlags(fs *flag.FlagSet, s *Settings) {
	v := reflect.ValueOf(s).Elem()
	for _, d := range declared() {
		for i, name := range d.flags {
			usage := d.usage
			if i > 0 {
				usage = "shorthand for --" + d.flags[0]
			}
			switch p := v.Field(d.field).Addr().Interface().(type) {
			case *string:
				fs.StringVar(p, name, *p, usage)
			case *int:
				fs.IntVar(p, name, *p, usage)
			case *int64:
				fs.Int64Var(p, name, *p, usage)
			case *float64:
				fs.Float64Var(p, name, *p, usage)
			case *Duration:
				fs.DurationVar((*time.Duration)(p), name, time.Duration(*p), usage)
			default:
				fs.Var(fieldFlag{v.Field(d.field)}, name, usage)
			}
		}
	}
}
