package main

import (
	"reflect"
	"strings"

	"github.com/eventguard/eventguard/config"
)

// hasSetting reports whether this build's configuration has the setting
// at path ("dedupe.window": the yaml keys from the top, dot-separated;
// a list of objects is entered as its element type). kbench builds the
// eventguard of the same tree, so a mode that needs a feature others are
// still building runs by itself once the feature's key is on the branch.
func hasSetting(path string) bool {
	t := reflect.TypeFor[config.Config]()
	for _, key := range strings.Split(path, ".") {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		found := false
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == key {
				t, found = f.Type, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
