package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// VarError is a configuration error about one variable. Its message names the
// variable (never its value); callers tell errors apart by type and Var, never
// by text.
type VarError struct {
	Var string
	Err error
}

func (e *VarError) Error() string { return e.Err.Error() }
func (e *VarError) Unwrap() error { return e.Err }

// Invalid returns a *VarError whose message is the variable's name followed by
// the formatted text: Invalid("OKX_API", "must be v2 or v1") reads
// "OKX_API must be v2 or v1".
func Invalid(name, format string, args ...any) error {
	return &VarError{Var: name, Err: fmt.Errorf(name+" "+format, args...)}
}

// lookupFunc resolves one variable: its value and whether it is set.
type lookupFunc func(key string) (string, bool)

// fill sets spec's tagged fields from lookup, following envconfig's rules for
// the shapes this project uses (names from `envconfig` tags, else the field name
// in upper case; `default`, `required`, `ignored`; embedded structs share the
// prefix, named struct fields prefix their variables with their own name;
// envconfig.Decoder, encoding.TextUnmarshaler, string, bool, integers,
// time.Duration, floats and comma-separated slices). It is its own code, not
// envconfig.Process, so that nothing has to be written into the process
// environment first: the secrets overlay and "empty means unset" live in lookup.
func fill(spec any, lookup lookupFunc) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return envconfig.ErrInvalidSpecification
	}
	return fillStruct("", v.Elem(), lookup)
}

func fillStruct(prefix string, s reflect.Value, lookup lookupFunc) error {
	t := s.Type()
	for i := 0; i < s.NumField(); i++ {
		f, ft := s.Field(i), t.Field(i)
		if !f.CanSet() || isTrue(ft.Tag.Get("ignored")) {
			continue
		}
		if isTrue(ft.Tag.Get("split_words")) {
			return fmt.Errorf("field %s.%s: split_words is not supported; name the variable with an envconfig tag", t.Name(), ft.Name)
		}
		for f.Kind() == reflect.Pointer {
			if f.IsNil() {
				if f.Type().Elem().Kind() != reflect.Struct {
					break
				}
				f.Set(reflect.New(f.Type().Elem()))
			}
			f = f.Elem()
		}
		alt := strings.ToUpper(ft.Tag.Get("envconfig"))
		key := ft.Name
		if alt != "" {
			key = alt
		}
		if prefix != "" {
			key = prefix + "_" + key
		}
		key = strings.ToUpper(key)
		if f.Kind() == reflect.Struct && !decodes(f) {
			inner := prefix
			if !ft.Anonymous {
				inner = key
			}
			if err := fillStruct(inner, f, lookup); err != nil {
				return err
			}
			continue
		}
		value, ok := lookup(key)
		if !ok && alt != "" {
			value, ok = lookup(alt)
		}
		def := ft.Tag.Get("default")
		if def != "" && !ok {
			value = def
		}
		if !ok && def == "" {
			if isTrue(ft.Tag.Get("required")) {
				name := key
				if alt != "" {
					name = alt
				}
				return &VarError{Var: name, Err: fmt.Errorf("required key %s missing value", name)}
			}
			continue
		}
		if err := setField(value, f); err != nil {
			// The value is left out: it may be a secret.
			return &VarError{Var: key, Err: fmt.Errorf("assigning %s to %s: not a valid %s", key, ft.Name, f.Type())}
		}
	}
	return nil
}

// decodes reports whether the field parses itself from one string.
func decodes(f reflect.Value) bool {
	if !f.CanAddr() {
		return false
	}
	switch f.Addr().Interface().(type) {
	case envconfig.Decoder, envconfig.Setter, encoding.TextUnmarshaler, encoding.BinaryUnmarshaler:
		return true
	}
	return false
}

func setField(value string, f reflect.Value) error {
	if f.CanAddr() {
		switch d := f.Addr().Interface().(type) {
		case envconfig.Decoder:
			return d.Decode(value)
		case envconfig.Setter:
			return d.Set(value)
		case encoding.TextUnmarshaler:
			return d.UnmarshalText([]byte(value))
		case encoding.BinaryUnmarshaler:
			return d.UnmarshalBinary([]byte(value))
		}
	}
	typ := f.Type()
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
		if f.IsNil() {
			f.Set(reflect.New(typ))
		}
		f = f.Elem()
	}
	switch typ.Kind() {
	case reflect.String:
		f.SetString(value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if typ == reflect.TypeOf(time.Duration(0)) {
			d, err := time.ParseDuration(value)
			if err != nil {
				return err
			}
			f.SetInt(int64(d))
			return nil
		}
		n, err := strconv.ParseInt(value, 0, typ.Bits())
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(value, 0, typ.Bits())
		if err != nil {
			return err
		}
		f.SetUint(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(value, typ.Bits())
		if err != nil {
			return err
		}
		f.SetFloat(x)
	case reflect.Slice:
		sl := reflect.MakeSlice(typ, 0, 0)
		if typ.Elem().Kind() == reflect.Uint8 {
			sl = reflect.ValueOf([]byte(value)).Convert(typ)
		} else if strings.TrimSpace(value) != "" {
			items := strings.Split(value, ",")
			sl = reflect.MakeSlice(typ, len(items), len(items))
			for i, it := range items {
				if err := setField(it, sl.Index(i)); err != nil {
					return err
				}
			}
		}
		f.Set(sl)
	default:
		return fmt.Errorf("unsupported type %s", typ)
	}
	return nil
}

func isTrue(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}
