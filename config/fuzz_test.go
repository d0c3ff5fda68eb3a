package config

import "testing"

// FuzzParse: no configuration file may crash start-up; what parses has
// every section.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{`{}`, `{"general":{"a":1,"b":"x","c":true}}`, `{"rafka":{"port":1,"shutdown_timeout":"2s"}}`,
		`{"consumer":null}`, `{"producer":{"a":{}}}`, `[]`, `null`, `{"x":1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err == nil && (file.General == nil || file.Consumer == nil || file.Producer == nil) {
			t.Fatalf("Parse(%q) left a section nil", data)
		}
		if props, err := ParseProperties(data); err == nil && props == nil {
			t.Fatalf("ParseProperties(%q) = nil, nil", data)
		}
	})
}
